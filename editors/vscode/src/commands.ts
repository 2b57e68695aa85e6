// The "Agent: …" commands. Each gathers what the user means (prompt, context, which task,
// which hunks) and sends one request; results show up through the task store.

import * as vscode from 'vscode';
import { ContextRef, ImportDiffParams, method, TaskMode } from './protocol';
import { Review } from './review';
import { describeError } from './server';
import { TaskPanels } from './taskPanel';
import { HunkRef, isOpen, shorten, Tasks } from './tasks';
import { Node } from './tasksView';

export interface Deps {
  tasks: Tasks;
  panels: TaskPanels;
  review: Review;
  sendRequest: (name: string, params: unknown) => Promise<unknown>;
  restart: () => Promise<void>;
}

export function registerCommands(deps: Deps): vscode.Disposable[] {
  const { tasks, panels, review } = deps;
  const command = (id: string, run: (...args: any[]) => Promise<unknown>, action: string) =>
    vscode.commands.registerCommand(id, async (...args: unknown[]) => {
      try {
        await run(...args);
      } catch (error) {
        void vscode.window.showErrorMessage(`agentls: could not ${action}: ${describeError(error)}`);
      }
    });
  return [
    command('agentls.newTask', () => startTask(deps, 'code'), 'start the task'),
    command('agentls.ask', () => startTask(deps, 'ask'), 'ask the agent'),
    command('agentls.cancelTask', async (arg?: Node) => {
      const taskId = taskOf(arg) ?? (await pickTask(tasks, 'Cancel which task?', true));
      if (taskId) {
        await tasks.cancel(taskId);
      }
    }, 'cancel the task'),
    command('agentls.acceptAllInFile', () => resolveFile(tasks, 'accept'), 'accept the hunks'),
    command('agentls.rejectAllInFile', () => resolveFile(tasks, 'reject'), 'reject the hunks'),
    command('agentls.acceptAllInTask', (arg?: Node) => resolveTask(tasks, 'accept', taskOf(arg)), 'accept the hunks'),
    command('agentls.rejectAllInTask', (arg?: Node) => resolveTask(tasks, 'reject', taskOf(arg)), 'reject the hunks'),
    command('agentls.acceptHunk', (a: string | Node, b?: string) => resolveOne(tasks, 'accept', a, b), 'accept the hunk'),
    command('agentls.rejectHunk', (a: string | Node, b?: string) => resolveOne(tasks, 'reject', a, b), 'reject the hunk'),
    command('agentls.showTasks', async () => {
      await tasks.reload();
      const taskId = await pickTask(tasks, 'Open which task?', false);
      if (taskId) {
        panels.show(taskId, false);
      }
    }, 'list the tasks'),
    command('agentls.openTaskPanel', async (arg?: string | Node) => {
      const taskId = typeof arg === 'string' ? arg : (taskOf(arg) ?? (await pickTask(tasks, 'Open which task?', false)));
      if (taskId) {
        panels.show(taskId, false);
      }
    }, 'open the task'),
    command('agentls.showProposedFile', async (a: string | Node, b?: string) => {
      const [taskId, uri] = typeof a === 'string' ? [a, b] : a.type === 'file' ? [a.taskId, a.file.uri] : [undefined, undefined];
      if (taskId && uri) {
        await review.showProposedFile(taskId, vscode.Uri.parse(uri));
      }
    }, 'show the proposed file'),
    command('agentls.importDiff', () => importDiff(deps), 'import the diff'),
    command('agentls.restartServer', () => deps.restart(), 'restart the server'),
  ];
}

async function startTask(deps: Deps, mode: TaskMode): Promise<void> {
  const context = currentContext();
  const where = context.length === 0 ? '' : context[0].range ? ' (about the selection)' : ' (about the current file)';
  const prompt = await vscode.window.showInputBox({
    title: mode === 'ask' ? `Ask the agent${where}` : `New agent task${where}`,
    prompt: mode === 'ask' ? 'A question; the agent reads but changes nothing' : 'What should the agent change?',
    placeHolder: mode === 'ask' ? 'How does the retry logic work?' : 'Add pagination to the user list endpoint',
    ignoreFocusOut: true,
  });
  if (!prompt?.trim()) {
    return;
  }
  const taskId = await deps.tasks.start({ prompt, mode, context });
  if (mode === 'ask' || vscode.workspace.getConfiguration('agentls').get<boolean>('openTaskPanel', true)) {
    deps.panels.show(taskId, true);
  }
}

/** The selection if there is one, else the whole current file, else nothing. */
function currentContext(): ContextRef[] {
  const editor = vscode.window.activeTextEditor;
  if (!editor || editor.document.uri.scheme !== 'file') {
    return [];
  }
  const uri = editor.document.uri.toString();
  const selection = editor.selection;
  if (selection.isEmpty) {
    return [{ uri }];
  }
  return [{
    uri,
    range: {
      start: { line: selection.start.line, character: selection.start.character },
      end: { line: selection.end.line, character: selection.end.character },
    },
  }];
}

function taskOf(arg: unknown): string | undefined {
  if (typeof arg === 'string') {
    return arg;
  }
  if (arg && typeof arg === 'object' && 'taskId' in arg && typeof arg.taskId === 'string') {
    return arg.taskId;
  }
  return undefined;
}

async function pickTask(tasks: Tasks, title: string, runningOnly: boolean): Promise<string | undefined> {
  const candidates = runningOnly ? tasks.running() : tasks.list();
  if (candidates.length === 0) {
    void vscode.window.showInformationMessage(runningOnly ? 'agentls: no task is running.' : 'agentls: no tasks yet. Run "Agent: New Task".');
    return undefined;
  }
  if (candidates.length === 1 && runningOnly) {
    return candidates[0].summary.taskId;
  }
  const picked = await vscode.window.showQuickPick(
    candidates.map((t) => ({
      label: shorten(t.summary.prompt),
      description: `${t.summary.mode} · ${t.summary.status}`,
      detail: t.summary.summary,
      taskId: t.summary.taskId,
    })),
    { title },
  );
  return picked?.taskId;
}

type Decision = 'accept' | 'reject';

async function resolveRefs(tasks: Tasks, decision: Decision, refs: HunkRef[]): Promise<void> {
  const byTask = new Map<string, string[]>();
  for (const ref of refs) {
    byTask.set(ref.taskId, [...(byTask.get(ref.taskId) ?? []), ref.hunk.hunkId]);
  }
  for (const [taskId, ids] of byTask) {
    await tasks.resolve(taskId, decision === 'accept' ? ids : [], decision === 'reject' ? ids : []);
  }
}

/** A stale hunk can only be rejected: accepting it would overwrite the user's typing. */
function decidable(ref: HunkRef, decision: Decision): boolean {
  return decision === 'reject' || ref.hunk.status !== 'stale';
}

async function resolveOne(tasks: Tasks, decision: Decision, a: string | Node, b?: string): Promise<void> {
  const [taskId, hunkId] = typeof a === 'string' ? [a, b] : a.type === 'hunk' ? [a.taskId, a.hunk.hunkId] : [undefined, undefined];
  if (taskId && hunkId) {
    await tasks.resolve(taskId, decision === 'accept' ? [hunkId] : [], decision === 'reject' ? [hunkId] : []);
  }
}

async function resolveFile(tasks: Tasks, decision: Decision): Promise<void> {
  const editor = vscode.window.activeTextEditor;
  if (!editor) {
    void vscode.window.showInformationMessage('agentls: open a file with proposed changes first.');
    return;
  }
  const refs = tasks.hunksIn(editor.document.uri).filter((r) => isOpen(r.hunk.status) && decidable(r, decision));
  if (refs.length === 0) {
    void vscode.window.showInformationMessage(`agentls: no hunks to ${decision} in ${vscode.workspace.asRelativePath(editor.document.uri)}.`);
    return;
  }
  await resolveRefs(tasks, decision, refs);
}

async function resolveTask(tasks: Tasks, decision: Decision, given?: string): Promise<void> {
  const withHunks = tasks.list().filter((t) => tasks.openHunks(t.summary.taskId).length > 0);
  const taskId = given ?? (withHunks.length === 1 ? withHunks[0].summary.taskId : await pickTask(tasks, `${decision === 'accept' ? 'Accept' : 'Reject'} all hunks of which task?`, false));
  if (!taskId) {
    return;
  }
  const refs = tasks.openHunks(taskId).filter((r) => decidable(r, decision));
  await resolveRefs(tasks, decision, refs);
}

async function importDiff(deps: Deps): Promise<void> {
  const source = await vscode.window.showQuickPick(
    [
      { label: 'From Clipboard', source: 'clipboard' },
      { label: 'From File…', source: 'file' },
      { label: 'From URL…', source: 'url' },
      { label: 'From Git Ref…', source: 'gitRef', detail: 'The changes of a branch, tag or commit: git diff base..ref' },
    ] as const,
    { title: 'Import a unified diff for review' },
  );
  if (!source) {
    return;
  }
  const params = await importParams(source.source);
  if (!params) {
    return;
  }
  const { taskId } = (await deps.sendRequest(method.importDiff, params)) as { taskId: string };
  await deps.tasks.track(taskId);
  const files = deps.tasks.get(taskId)?.proposal?.files ?? [];
  if (files.length > 0) {
    const first = vscode.Uri.parse(files[0].uri);
    await vscode.window.showTextDocument(first);
  }
  deps.panels.show(taskId, true);
}

async function importParams(source: 'clipboard' | 'file' | 'url' | 'gitRef'): Promise<ImportDiffParams | undefined> {
  switch (source) {
    case 'clipboard': {
      const diff = await vscode.env.clipboard.readText();
      if (!diff.trim()) {
        void vscode.window.showWarningMessage('agentls: the clipboard is empty; copy a unified diff first.');
        return undefined;
      }
      return { diff };
    }
    case 'file': {
      const picked = await vscode.window.showOpenDialog({ canSelectMany: false, title: 'Diff or patch file', filters: { 'Diffs': ['diff', 'patch'], 'All files': ['*'] } });
      return picked?.[0] ? { path: picked[0].fsPath } : undefined;
    }
    case 'url': {
      const url = await vscode.window.showInputBox({
        title: 'URL of a unified diff',
        placeHolder: 'https://example.com/change.diff',
        validateInput: (value) => (/^https?:\/\/\S+$/.test(value.trim()) ? undefined : 'An http(s) URL'),
      });
      return url ? { url: url.trim() } : undefined;
    }
    case 'gitRef': {
      const gitRef = await vscode.window.showInputBox({ title: 'Git ref whose changes to import', placeHolder: 'origin/feature-branch' });
      return gitRef?.trim() ? { gitRef: gitRef.trim() } : undefined;
    }
  }
}

