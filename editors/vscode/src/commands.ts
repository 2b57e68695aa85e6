// The "Agent: …" commands. Each gathers what the user means (prompt, context, which task,
// which hunks) and sends one request; results show up through the task store, and what
// the server refused (an undo over edited text, a hunk still stale) in a message.

import * as vscode from 'vscode';
import { Attempts } from './attempts';
import { AgentInfo, ContextRef, HunkInfo, ImportDiffParams, isFinished, method, ReviewTarget, TaskMode } from './protocol';
import { Review } from './review';
import { HunkEdits } from './hunkEdit';
import { describeError } from './server';
import { TaskPanels } from './taskPanel';
import { HunkRef, isOpen, shorten, Tasks, TaskState } from './tasks';
import { age, Node } from './tasksView';

export interface Deps {
  tasks: Tasks;
  panels: TaskPanels;
  review: Review;
  edits: HunkEdits;
  attempts: Attempts;
  sendRequest: (name: string, params: unknown) => Promise<unknown>;
  restart: () => Promise<void>;
}

export function registerCommands(deps: Deps): vscode.Disposable[] {
  const { tasks, panels, review, edits } = deps;
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
    command('agentls.reviewChanges', () => reviewChanges(deps), 'start the review'),
    command('agentls.cancelTask', async (arg?: Node) => {
      const taskId = taskOf(arg) ?? (await pickTask(tasks, 'Cancel which task?', 'running'));
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
    command('agentls.rejectHunkWithReason', (a?: string | Node, b?: string) => rejectWithReason(tasks, a, b), 'reject the hunk'),
    command('agentls.acceptHunkWithEdit', (a?: string | Node, b?: string) => editHunk(tasks, edits, a, b), 'open the hunk for editing'),
    command('agentls.acceptHunkEdit', (uri?: vscode.Uri) => edits.accept(uri), 'accept your version'),
    command('agentls.discardHunkEdit', (uri?: vscode.Uri) => edits.discard(uri), 'discard the edit'),
    command('agentls.undoHunk', (a?: string | Node, b?: string) => undoOne(tasks, a, b), 'undo the hunk'),
    command('agentls.undoTask', (arg?: Node) => undoTask(tasks, taskOf(arg)), 'undo the task’s hunks'),
    command('agentls.refreshHunk', async (taskId: string, hunkId: string) => {
      await refreshStale(tasks, new Map([[taskId, [hunkId]]]));
    }, 'refresh the hunk'),
    command('agentls.refreshStale', () => refreshStaleInFile(tasks), 'refresh the stale hunks'),
    command('agentls.revealHunk', (taskId: string, hunkId: string) => revealHunk(tasks, taskId, hunkId), 'show the hunk'),
    command('agentls.followUp', (arg?: Node) => followUp(deps, taskOf(arg), 'finished'), 'follow up on the task'),
    command('agentls.resumeTask', (arg?: Node) => followUp(deps, taskOf(arg), 'interrupted'), 'resume the task'),
    command('agentls.forkTask', (arg?: Node) => forkTask(deps, taskOf(arg)), 'fork the task'),
    command('agentls.deleteTask', (arg?: Node) => deleteTask(deps, taskOf(arg)), 'delete the task'),
    command('agentls.showTasks', async () => {
      await tasks.reload();
      const taskId = await pickTask(tasks, 'Open which task?', 'any');
      if (taskId) {
        panels.show(taskId, false);
      }
    }, 'list the tasks'),
    command('agentls.openTaskPanel', async (arg?: string | Node) => {
      const taskId = typeof arg === 'string' ? arg : (taskOf(arg) ?? (await pickTask(tasks, 'Open which task?', 'any')));
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
    command('agentls.newTaskWithAttempts', async () => {
      const taskId = await deps.attempts.start();
      if (taskId && vscode.workspace.getConfiguration('agentls').get<boolean>('openTaskPanel', true)) {
        panels.show(taskId, true);
      }
    }, 'start the attempts'),
    command('agentls.compareAttempts', async (arg?: Node) => {
      const taskId = taskOf(arg) ?? (await pickTask(tasks, 'Compare the attempts of which task?', 'attempts'));
      if (taskId) {
        await deps.attempts.compare(taskId);
      }
    }, 'compare the attempts'),
    command('agentls.importAttempts', async () => {
      const taskId = await deps.attempts.import();
      if (taskId) {
        panels.show(taskId, true);
      }
    }, 'import the attempts'),
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
  const agent = await chooseAgent(deps);
  if (agent === null) {
    return;
  }
  const taskId = await deps.tasks.start({ prompt, mode, context, agent });
  if (mode === 'ask' || vscode.workspace.getConfiguration('agentls').get<boolean>('openTaskPanel', true)) {
    deps.panels.show(taskId, true);
  }
}

/** The agent picked last in this window, offered first next time. */
let lastAgent: string | undefined;

/**
 * Which agent runs the task: when ACP agents are configured (`agent/listAgents`), a quick
 * pick of them and the built-in one, the last choice first. `undefined`: the built-in
 * one (nothing was asked, or it was picked); `null`: the user dismissed the pick.
 */
async function chooseAgent(deps: Deps): Promise<string | undefined | null> {
  // A server that cannot list agents (an older one) runs every task itself.
  const listed = (await deps.sendRequest(method.listAgents, {}).catch(() => undefined)) as { agents?: AgentInfo[] } | undefined;
  const agents = listed?.agents ?? [];
  if (agents.every((agent) => agent.builtIn)) {
    return undefined;
  }
  const ordered = [...agents].sort((a, b) => Number(b.name === lastAgent) - Number(a.name === lastAgent));
  const picked = await vscode.window.showQuickPick(
    ordered.map((agent) => ({
      label: agent.name,
      description: agent.builtIn ? `built-in${agent.description ? ` · ${agent.description}` : ''}` : agent.description,
      detail: agent.problem ? `$(warning) ${agent.problem}` : agent.command?.join(' '),
      agent,
    })),
    { title: 'Which agent runs the task?', placeHolder: 'an ACP agent you configured, or agentls’s own', ignoreFocusOut: true },
  );
  if (!picked) {
    return null;
  }
  lastAgent = picked.agent.name;
  return picked.agent.builtIn ? undefined : picked.agent.name;
}

/**
 * "Agent: Review Changes": pick what to review (uncommitted work with the unsaved buffers,
 * a branch's changes, one commit), optionally say what to look for. The findings arrive as
 * diagnostics (the Problems view) whose light bulb offers "Apply fix" and "Dismiss".
 */
async function reviewChanges(deps: Deps): Promise<void> {
  const picked = await vscode.window.showQuickPick(
    [
      { label: 'Uncommitted changes', description: 'working tree, index and unsaved editors, against HEAD', target: 'uncommitted' as const },
      { label: 'Changes since a branch…', description: 'the current state against its merge base', target: 'baseBranch' as const },
      { label: 'A commit…', description: 'one commit against its parent', target: 'commit' as const },
    ],
    { title: 'Review which changes?', ignoreFocusOut: true },
  );
  if (!picked) {
    return;
  }
  let target: ReviewTarget;
  let label: string;
  if (picked.target === 'uncommitted') {
    target = { uncommitted: true };
    label = 'review uncommitted changes';
  } else {
    const value = await vscode.window.showInputBox({
      title: picked.target === 'baseBranch' ? 'Review the changes since which branch?' : 'Review which commit?',
      value: picked.target === 'baseBranch' ? 'main' : 'HEAD',
      ignoreFocusOut: true,
    });
    if (!value?.trim()) {
      return;
    }
    target = picked.target === 'baseBranch' ? { baseBranch: value.trim() } : { commit: value.trim() };
    label = picked.target === 'baseBranch' ? `review changes since ${value.trim()}` : `review commit ${value.trim()}`;
  }
  const instructions = await vscode.window.showInputBox({
    title: 'Anything in particular to look for? (optional)',
    placeHolder: 'error handling, SQL injection, …',
    ignoreFocusOut: true,
  });
  if (instructions === undefined) {
    return;
  }
  const taskId = await deps.tasks.start(
    { prompt: '', mode: 'review', target, instructions: instructions.trim() || undefined },
    label,
  );
  if (vscode.workspace.getConfiguration('agentls').get<boolean>('openTaskPanel', true)) {
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

/** Which tasks a command may act on: running ones (cancel), finished ones (follow up, fork, delete), any. */
type Candidates = 'running' | 'finished' | 'interrupted' | 'forkable' | 'attempts' | 'any';

const CANDIDATES: Record<Candidates, [wanted: (t: TaskState) => boolean, none: string]> = {
  running: [(t) => !isFinished(t.summary.status), 'agentls: no task is running.'],
  finished: [(t) => isFinished(t.summary.status), 'agentls: no finished task yet. Run "Agent: New Task".'],
  interrupted: [(t) => t.summary.status === 'interrupted', 'agentls: no task was interrupted.'],
  forkable: [(t) => isFinished(t.summary.status) && (t.summary.turns ?? 0) > 0, 'agentls: no finished task has model turns to fork from.'],
  attempts: [(t) => (t.attempts ?? []).length > 0, 'agentls: no task has attempts. Run "Agent: New Task with Attempts…" or "Agent: Import Attempts…".'],
  any: [() => true, 'agentls: no tasks yet. Run "Agent: New Task".'],
};

async function pickTask(tasks: Tasks, title: string, which: Candidates): Promise<string | undefined> {
  const [wanted, none] = CANDIDATES[which];
  const candidates = tasks.list().filter(wanted);
  if (candidates.length === 0) {
    void vscode.window.showInformationMessage(none);
    return undefined;
  }
  if (candidates.length === 1 && (which === 'running' || which === 'attempts')) {
    return candidates[0].summary.taskId;
  }
  const now = Date.now();
  const picked = await vscode.window.showQuickPick(
    candidates.map((t) => ({
      label: shorten(t.summary.prompt),
      description: [t.summary.mode, t.summary.status, t.summary.forkedFrom && 'fork', age(t.summary.finishedAt ?? t.summary.createdAt, now)]
        .filter(Boolean)
        .join(' · '),
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

/**
 * Only a pending hunk can be accepted: a stale one would overwrite the user's typing, a
 * conflicting one waits for the other task's hunk to be decided.
 */
function decidable(ref: HunkRef, decision: Decision): boolean {
  return decision === 'reject' || ref.hunk.status === 'pending';
}

/** The hunk a command means: its arguments (a CodeLens, a tree row), else the one at the cursor. */
function chosenHunk(tasks: Tasks, wanted: (status: HunkInfo['status']) => boolean, a?: string | Node, b?: string): [string, string] | undefined {
  if (typeof a === 'string' && b) {
    return [a, b];
  }
  if (a && typeof a === 'object') {
    return a.type === 'hunk' ? [a.taskId, a.hunk.hunkId] : undefined;
  }
  const editor = vscode.window.activeTextEditor;
  if (!editor) {
    return undefined;
  }
  const line = editor.selection.active.line;
  const here = tasks.hunksIn(editor.document.uri).find((ref) => wanted(ref.hunk.status) && covers(ref.hunk, line));
  return here ? [here.taskId, here.hunk.hunkId] : undefined;
}

/** Whether a hunk's lines include `line` (a range ending at column 0 stops the line before). */
function covers(hunk: HunkInfo, line: number): boolean {
  const { start, end } = hunk.range;
  const last = end.character === 0 && end.line > start.line ? end.line - 1 : end.line;
  return line >= start.line && line <= last;
}

async function resolveOne(tasks: Tasks, decision: Decision, a: string | Node, b?: string): Promise<void> {
  const [taskId, hunkId] = typeof a === 'string' ? [a, b] : a.type === 'hunk' ? [a.taskId, a.hunk.hunkId] : [undefined, undefined];
  if (taskId && hunkId) {
    await tasks.resolve(taskId, decision === 'accept' ? [hunkId] : [], decision === 'reject' ? [hunkId] : []);
  }
}

async function rejectWithReason(tasks: Tasks, a?: string | Node, b?: string): Promise<void> {
  const chosen = chosenHunk(tasks, isOpen, a, b);
  if (!chosen) {
    void vscode.window.showInformationMessage('agentls: put the cursor on a proposed hunk first.');
    return;
  }
  const reason = await vscode.window.showInputBox({
    title: 'Reject the hunk',
    prompt: 'Why? The agent sees it if you follow up on the task (optional; Escape cancels).',
    placeHolder: 'Keep the old name: other crates call it',
  });
  if (reason !== undefined) {
    await tasks.resolve(chosen[0], [], [chosen[1]], reason.trim());
  }
}

/** Opens the pending hunk meant (CodeLens, tree row, cursor) for editing before accepting. */
async function editHunk(tasks: Tasks, edits: HunkEdits, a?: string | Node, b?: string): Promise<void> {
  const chosen = chosenHunk(tasks, isOpen, a, b);
  const ref = chosen && tasks.find({ taskId: chosen[0], hunkId: chosen[1] });
  if (!ref) {
    void vscode.window.showInformationMessage('agentls: put the cursor on a proposed hunk first.');
    return;
  }
  if (ref.hunk.status !== 'pending') {
    const next = ref.hunk.status === 'stale' ? 'refresh it first' : 'accept or reject the hunk it conflicts with first';
    void vscode.window.showWarningMessage(`agentls: this hunk is ${ref.hunk.status}; ${next}.`);
    return;
  }
  await edits.open(ref);
}

async function undoOne(tasks: Tasks, a?: string | Node, b?: string): Promise<void> {
  const chosen = chosenHunk(tasks, (status) => status === 'accepted', a, b);
  if (!chosen) {
    void vscode.window.showInformationMessage('agentls: put the cursor on an accepted hunk first.');
    return;
  }
  await undo(tasks, chosen[0], [chosen[1]]);
}

async function undoTask(tasks: Tasks, given?: string): Promise<void> {
  const accepted = (taskId?: string) => tasks.hunksWhere((status) => status === 'accepted', taskId);
  const withAccepted = new Set(accepted().map((ref) => ref.taskId));
  const taskId = given ?? (withAccepted.size === 1 ? [...withAccepted][0] : await pickTask(tasks, 'Undo the accepted hunks of which task?', 'any'));
  if (!taskId) {
    return;
  }
  const ids = accepted(taskId).map((ref) => ref.hunk.hunkId);
  if (ids.length === 0) {
    void vscode.window.showInformationMessage('agentls: that task has no accepted hunks.');
    return;
  }
  await undo(tasks, taskId, ids);
}

async function undo(tasks: Tasks, taskId: string, hunkIds: string[]): Promise<void> {
  const { refused = [] } = await tasks.undo(taskId, hunkIds);
  if (refused.length > 0) {
    const why = refused.map((r) => `${r.hunkId}: ${r.reason}`).join('; ');
    void vscode.window.showWarningMessage(`agentls: ${refused.length} of ${hunkIds.length} hunks not undone — ${why}`);
  }
}

/** The stale hunks of the current file, by task; none selected: every task's. */
async function refreshStaleInFile(tasks: Tasks): Promise<void> {
  const editor = vscode.window.activeTextEditor;
  const stale = editor
    ? tasks.hunksIn(editor.document.uri).filter((ref) => ref.hunk.status === 'stale')
    : tasks.hunksWhere((status) => status === 'stale');
  if (stale.length === 0) {
    void vscode.window.showInformationMessage('agentls: no stale hunks here.');
    return;
  }
  const byTask = new Map<string, string[]>();
  for (const ref of stale) {
    byTask.set(ref.taskId, [...(byTask.get(ref.taskId) ?? []), ref.hunk.hunkId]);
  }
  await refreshStale(tasks, byTask);
}

async function refreshStale(tasks: Tasks, byTask: Map<string, string[]>): Promise<void> {
  let placed = 0;
  const still: string[] = [];
  for (const [taskId, ids] of byTask) {
    for (const hunk of (await tasks.refreshStale(taskId, ids)).hunks) {
      if (hunk.status === 'pending') {
        placed += 1;
      } else {
        still.push(hunk.reason ?? hunk.status);
      }
    }
  }
  const message = `agentls: ${placed} stale hunk${placed === 1 ? '' : 's'} re-placed`;
  if (still.length > 0) {
    void vscode.window.showWarningMessage(`${message}; ${still.length} still stale — ${still.join('; ')}`);
  } else {
    void vscode.window.showInformationMessage(message);
  }
}

async function revealHunk(tasks: Tasks, taskId: string, hunkId: string): Promise<void> {
  const ref = tasks.find({ taskId, hunkId });
  if (!ref) {
    void vscode.window.showInformationMessage(`agentls: hunk ${hunkId} is not in this window's proposals.`);
    return;
  }
  const start = new vscode.Position(ref.hunk.range.start.line, ref.hunk.range.start.character);
  await vscode.window.showTextDocument(vscode.Uri.parse(ref.uri), { selection: new vscode.Range(start, start) });
}

/**
 * Another turn of a finished task; for an interrupted one (its server stopped while it
 * ran) that is how it resumes: the agent continues the recorded conversation.
 */
async function followUp(deps: Deps, given: string | undefined, which: 'finished' | 'interrupted'): Promise<void> {
  const taskId = given ?? (await pickTask(deps.tasks, which === 'interrupted' ? 'Resume which task?' : 'Follow up on which task?', which));
  if (!taskId) {
    return;
  }
  const summary = deps.tasks.get(taskId)?.summary;
  const name = `“${shorten(summary?.prompt ?? taskId, 40)}”`;
  const interrupted = summary?.status === 'interrupted';
  const prompt = await vscode.window.showInputBox({
    title: interrupted ? `Resume ${name}` : `Follow up on ${name}`,
    prompt: interrupted
      ? 'agentls stopped while this task ran; the agent goes on from its recorded conversation with what you write here'
      : 'The agent sees the task so far and what you accepted or rejected; its new hunks replace the undecided ones',
    placeHolder: interrupted ? 'Carry on where you stopped' : 'Also handle the empty list',
    ignoreFocusOut: true,
  });
  if (!prompt?.trim()) {
    return;
  }
  await deps.tasks.followUp(taskId, prompt);
  deps.panels.show(taskId, true);
}

/** Forks a finished task at a model turn the user picks (the last one when it has one). */
async function forkTask(deps: Deps, given?: string): Promise<void> {
  const taskId = given ?? (await pickTask(deps.tasks, 'Fork which task?', 'forkable'));
  const summary = taskId ? deps.tasks.get(taskId)?.summary : undefined;
  if (!taskId || !summary) {
    return;
  }
  const turns = summary.turns ?? 0;
  let atTurn: number | undefined;
  if (turns > 1) {
    const picked = await vscode.window.showQuickPick(
      [
        { label: 'At the end', description: `all ${turns} turns`, turn: undefined },
        ...Array.from({ length: turns - 1 }, (_, i) => turns - 1 - i).map((turn) => ({
          label: `After turn ${turn}`,
          description: `of ${turns}`,
          turn,
        })),
      ],
      {
        title: `Fork “${shorten(summary.prompt, 40)}”`,
        placeHolder: 'Keep the conversation up to which model turn? The fork gets the undecided hunks of that moment',
      },
    );
    if (!picked) {
      return;
    }
    atTurn = picked.turn;
  }
  await deps.tasks.fork(taskId, atTurn);
  void vscode.window.showInformationMessage(
    `agentls: forked “${shorten(summary.prompt, 40)}”${atTurn ? ` at turn ${atTurn}` : ''}; follow up on the fork to take it another way.`,
  );
}

/** Deletes a finished task and its history, once the user confirms. */
async function deleteTask(deps: Deps, given?: string): Promise<void> {
  const taskId = given ?? (await pickTask(deps.tasks, 'Delete which task?', 'finished'));
  const summary = taskId ? deps.tasks.get(taskId)?.summary : undefined;
  if (!taskId || !summary) {
    return;
  }
  const open = deps.tasks.openHunks(taskId).length;
  const detail = `Its history and ${open === 0 ? 'its hunks are' : `its ${open} hunk${open === 1 ? '' : 's'} still to review are`} removed for good. What you accepted stays in your files.`;
  const choice = await vscode.window.showWarningMessage(`Delete the task “${shorten(summary.prompt, 40)}”?`, { modal: true, detail }, 'Delete');
  if (choice === 'Delete') {
    await deps.tasks.delete(taskId);
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
  const taskId = given ?? (withHunks.length === 1 ? withHunks[0].summary.taskId : await pickTask(tasks, `${decision === 'accept' ? 'Accept' : 'Reject'} all hunks of which task?`, 'any'));
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

