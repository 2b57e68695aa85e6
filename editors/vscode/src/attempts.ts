// Best-of-N attempts: starting a task with several attempts, pulling in attempts pushed
// from CI or a cluster (`agentls exec --push`), and comparing them in a quick pick — one
// row per attempt with its status, size and last command (green when it exited 0), and a
// diff editor previewing the attempt under the cursor as choosing it would place it.
// Choosing one makes its hunks the task's proposal, reviewed like any other.

import * as vscode from 'vscode';
import { AttemptInfo, HunkInfo, isFinished, ProposalFile } from './protocol';
import { applyHunks } from './review';
import { shorten, Tasks } from './tasks';

/** `agentls-attempt:` documents: a file as one attempt of one task would leave it. */
const ATTEMPT_SCHEME = 'agentls-attempt';

interface AttemptItem extends vscode.QuickPickItem {
  attempt: number;
}

export class Attempts implements vscode.Disposable {
  private readonly disposables: vscode.Disposable[] = [];
  /** Preview hunks by `taskId/attempt`, fetched when the row is first looked at. */
  private readonly previews = new Map<string, Promise<ProposalFile[]>>();

  constructor(private readonly tasks: Tasks) {
    this.disposables.push(
      vscode.workspace.registerTextDocumentContentProvider(ATTEMPT_SCHEME, {
        provideTextDocumentContent: (uri) => this.attemptContent(uri),
      }),
      // An attempt placed against the text as it was: a new look places it again.
      tasks.onDidChange(() => this.previews.clear()),
    );
  }

  dispose(): void {
    this.disposables.forEach((d) => d.dispose());
  }

  /** "Agent: New Task with Attempts…": a prompt, how many attempts, who chooses. */
  async start(): Promise<string | undefined> {
    const prompt = await vscode.window.showInputBox({
      title: 'New agent task with attempts',
      prompt: 'What should the agent change? Each attempt tries on its own; you compare and choose',
      placeHolder: 'Make the flaky retry test deterministic',
      ignoreFocusOut: true,
    });
    if (!prompt?.trim()) {
      return undefined;
    }
    const count = await vscode.window.showQuickPick(
      [2, 3, 4, 5, 6, 7, 8].map((n) => ({ label: `${n} attempts`, n })),
      { title: 'How many attempts?', placeHolder: 'At most max_parallel_attempts (default 4) run at once' },
    );
    if (!count) {
      return undefined;
    }
    const choose = await vscode.window.showQuickPick(
      [
        { label: 'I choose', description: 'compare the attempts when they are done', choose: 'manual' as const },
        { label: 'The first green one', description: 'the first attempt whose last command (its test) passed', choose: 'firstGreen' as const },
      ],
      { title: 'Which attempt becomes the proposal?' },
    );
    if (!choose) {
      return undefined;
    }
    return this.tasks.start({ prompt, mode: 'code', bestOf: count.n, choose: choose.choose });
  }

  /** "Agent: Import Attempts…": refs pushed by `agentls exec --push`, as one task. */
  async import(): Promise<string | undefined> {
    const prefix = await vscode.window.showInputBox({
      title: 'Import attempts pushed by agentls exec --push',
      prompt: 'The refs’ prefix: every ref under it is an attempt (e.g. refs/agentls/<CI run id>)',
      placeHolder: 'refs/agentls/run-1',
      ignoreFocusOut: true,
    });
    if (!prefix?.trim()) {
      return undefined;
    }
    const remote = await vscode.window.showInputBox({
      title: 'From which remote?',
      value: 'origin',
      ignoreFocusOut: true,
    });
    if (!remote?.trim()) {
      return undefined;
    }
    return this.tasks.importAttempts({ remote: remote.trim(), prefix: prefix.trim() });
  }

  /**
   * The attempts of a task in a quick pick: the diff editor beside it previews the one
   * under the cursor; Enter chooses it.
   */
  async compare(taskId: string): Promise<void> {
    const state = this.tasks.get(taskId);
    const attempts = (state?.attempts ?? []).filter(Boolean);
    if (!state || attempts.length === 0) {
      void vscode.window.showInformationMessage('agentls: that task has no attempts.');
      return;
    }
    const pick = vscode.window.createQuickPick<AttemptItem>();
    pick.title = `Attempts of “${shorten(state.summary.prompt, 50)}”`;
    pick.placeholder = 'The diff editor shows the attempt under the cursor; Enter makes it the proposal';
    pick.ignoreFocusOut = true;
    pick.matchOnDescription = true;
    pick.items = attempts.map((a) => attemptItem(a, state.chosenAttempt));
    const chosen = pick.items.find((item) => item.attempt === state.chosenAttempt);
    if (chosen) {
      pick.activeItems = [chosen];
    }
    // Attempts still running finish while the user looks: their rows follow.
    const following = this.tasks.onDidChange((changed) => {
      const now = this.tasks.get(taskId);
      if (changed !== taskId || !now) {
        return;
      }
      const active = pick.activeItems[0]?.attempt;
      pick.items = (now.attempts ?? []).filter(Boolean).map((a) => attemptItem(a, now.chosenAttempt));
      pick.activeItems = pick.items.filter((item) => item.attempt === active);
    });
    pick.onDidChangeActive(([item]) => {
      if (item) {
        this.preview(taskId, item.attempt).catch((error) => {
          pick.placeholder = `No preview of attempt ${item.attempt}: ${String(error)}`;
        });
      }
    });
    const done = new Promise<AttemptItem | undefined>((resolve) => {
      pick.onDidAccept(() => resolve(pick.selectedItems[0]));
      pick.onDidHide(() => resolve(undefined));
    });
    pick.show();
    const picked = await done;
    following.dispose();
    pick.dispose();
    if (picked) {
      await this.tasks.chooseAttempt(taskId, picked.attempt);
      const files = this.tasks.get(taskId)?.proposal?.files ?? [];
      if (files[0]) {
        await vscode.window.showTextDocument(vscode.Uri.parse(files[0].uri));
      }
    }
  }

  /** Opens a diff editor of the attempt's first file (without taking the focus). */
  private async preview(taskId: string, attempt: number): Promise<void> {
    const files = await this.hunks(taskId, attempt);
    const file = files[0];
    if (!file) {
      return;
    }
    const left = vscode.Uri.parse(file.uri);
    const right = left.with({ scheme: ATTEMPT_SCHEME, query: `${taskId}/${attempt}` });
    const more = files.length > 1 ? ` (+${files.length - 1} more files)` : '';
    const title = `${vscode.workspace.asRelativePath(left)} ↔ attempt ${attempt}${more}`;
    await vscode.commands.executeCommand('vscode.diff', left, right, title, { preserveFocus: true, preview: true });
  }

  private hunks(taskId: string, attempt: number): Promise<ProposalFile[]> {
    const key = `${taskId}/${attempt}`;
    let files = this.previews.get(key);
    if (!files) {
      files = this.tasks.previewAttempt(taskId, attempt);
      this.previews.set(key, files);
      files.catch(() => this.previews.delete(key));
    }
    return files;
  }

  private async attemptContent(uri: vscode.Uri): Promise<string> {
    const [taskId, attempt] = uri.query.split('/');
    const fileUri = uri.with({ scheme: 'file', query: '' });
    const document = await vscode.workspace.openTextDocument(fileUri);
    const files = await this.hunks(taskId, Number(attempt));
    const hunks: HunkInfo[] = files
      .filter((f) => vscode.Uri.parse(f.uri).toString() === fileUri.toString())
      .flatMap((f) => f.hunks)
      .filter((h) => h.status === 'pending');
    return applyHunks(document, hunks);
  }
}

/** One row: `Attempt 2 · completed · chosen`, `+12 −3 · 2 files · ✓ cargo test`, the summary. */
function attemptItem(a: AttemptInfo, chosen: number | undefined): AttemptItem {
  const command = a.lastCommand
    ? `${a.lastCommand.exitCode === 0 ? '$(pass)' : '$(error)'} ${shorten(a.lastCommand.command, 40)}${a.lastCommand.exitCode === 0 ? '' : ` (exit ${a.lastCommand.exitCode})`}`
    : undefined;
  const size = a.files > 0 ? `+${a.added} −${a.removed} · ${a.files} file${a.files === 1 ? '' : 's'}` : 'no changes';
  return {
    label: [`Attempt ${a.attempt}`, a.status, a.attempt === chosen ? 'chosen' : undefined].filter(Boolean).join(' · '),
    description: [size, command, a.source && shorten(a.source.ref, 40)].filter(Boolean).join(' · '),
    detail: a.summary,
    attempt: a.attempt,
    iconPath: new vscode.ThemeIcon(attemptIcon(a)),
  };
}

/** Running; done and green (its last command passed, or it ran none); done but red; failed. */
function attemptIcon(a: AttemptInfo): string {
  if (!isFinished(a.status)) {
    return 'sync~spin';
  }
  if (a.status !== 'completed') {
    return 'error';
  }
  return (a.lastCommand?.exitCode ?? 0) === 0 ? 'pass' : 'warning';
}
