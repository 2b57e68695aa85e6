// The "Agent Tasks" tree in the Explorer: task → files → hunks, each with an icon for its
// status. Selecting a hunk reveals it in the editor; a file opens the proposed-file diff.
// It lists every task the server has, earlier ones it loaded from the task history
// included, newest first, each with its age; their menus resume, fork and delete them.

import * as path from 'path';
import * as vscode from 'vscode';
import { HunkInfo, isFinished, ProposalFile, TaskStatus } from './protocol';
import { isOpen, shorten, Tasks, TaskState } from './tasks';

/** A tree element; menu commands on a row receive it as their argument. */
export type Node =
  | { type: 'task'; taskId: string }
  | { type: 'file'; taskId: string; file: ProposalFile }
  | { type: 'hunk'; taskId: string; uri: string; hunk: HunkInfo };

const TASK_ICONS: Record<TaskStatus, [icon: string, color?: string]> = {
  queued: ['clock'],
  running: ['sync~spin'],
  completed: ['pass', 'testing.iconPassed'],
  failed: ['error', 'testing.iconFailed'],
  cancelled: ['circle-slash'],
  interrupted: ['debug-pause'],
};

const HUNK_ICONS: Record<HunkInfo['status'], [icon: string, color?: string]> = {
  pending: ['circle-outline'],
  accepted: ['check', 'testing.iconPassed'],
  rejected: ['close', 'disabledForeground'],
  stale: ['warning', 'editorWarning.foreground'],
  conflict: ['error', 'editorError.foreground'],
};

export class TasksView implements vscode.TreeDataProvider<Node>, vscode.Disposable {
  private readonly changed = new vscode.EventEmitter<Node | undefined>();
  readonly onDidChangeTreeData = this.changed.event;
  private readonly subscription: vscode.Disposable;

  /** Redraws once a minute, so that the ages ("5 min ago") stay true. */
  private readonly clock = setInterval(() => this.changed.fire(undefined), 60_000);

  constructor(private readonly tasks: Tasks) {
    this.subscription = tasks.onDidChange(() => this.changed.fire(undefined));
  }

  dispose(): void {
    clearInterval(this.clock);
    this.subscription.dispose();
    this.changed.dispose();
  }

  getChildren(node?: Node): Node[] {
    if (!node) {
      return this.tasks.list().map((t) => ({ type: 'task', taskId: t.summary.taskId }));
    }
    if (node.type === 'task') {
      const files = this.tasks.get(node.taskId)?.proposal?.files ?? [];
      return files.map((file) => ({ type: 'file', taskId: node.taskId, file }));
    }
    if (node.type === 'file') {
      return node.file.hunks.map((hunk) => ({ type: 'hunk', taskId: node.taskId, uri: node.file.uri, hunk }));
    }
    return [];
  }

  getTreeItem(node: Node): vscode.TreeItem {
    switch (node.type) {
      case 'task':
        return taskItem(this.tasks, node.taskId);
      case 'file':
        return fileItem(node.taskId, node.file);
      case 'hunk':
        return hunkItem(node.taskId, node.uri, node.hunk);
    }
  }
}

function icon([id, color]: [string, string?]): vscode.ThemeIcon {
  return new vscode.ThemeIcon(id, color ? new vscode.ThemeColor(color) : undefined);
}

function taskItem(tasks: Tasks, taskId: string): vscode.TreeItem {
  const state = tasks.get(taskId);
  if (!state) {
    return new vscode.TreeItem('(unknown task)');
  }
  const { summary } = state;
  const files = state.proposal?.files.length ?? 0;
  const open = state.proposal?.files.flatMap((f) => f.hunks).filter((h) => isOpen(h.status)).length ?? 0;
  const finished = isFinished(summary.status);
  // Running tasks and those with hunks to review open; the history of decided ones
  // stays folded.
  const collapsed = files === 0
    ? vscode.TreeItemCollapsibleState.None
    : !finished || open > 0 ? vscode.TreeItemCollapsibleState.Expanded : vscode.TreeItemCollapsibleState.Collapsed;
  const item = new vscode.TreeItem(shorten(summary.prompt), collapsed);
  // VS Code takes collapsibleState only from an id it has not seen (after that the row
  // keeps what it had): a task that gets its first files gets a new id, so that it opens.
  item.id = files > 0 ? summary.taskId : `${summary.taskId} (no files)`;
  const fork = summary.forkedFrom ? `fork at turn ${summary.forkedFrom.atTurn}` : undefined;
  const review = open > 0 ? `${open} to review` : undefined;
  const when = summary.finishedAt ?? summary.createdAt;
  const count = state.attempts?.length ?? 0;
  const attempts = count === 0 ? undefined : state.chosenAttempt ? `attempt ${state.chosenAttempt} of ${count}` : `${count} attempts`;
  item.description = [summary.status, fork, attempts, age(when, Date.now()), review].filter(Boolean).join(' · ');
  item.tooltip = taskTooltip(tasks, state);
  item.iconPath = icon(TASK_ICONS[summary.status]);
  item.contextValue = taskContext(state);
  item.command = { command: 'agentls.openTaskPanel', title: 'Open Task Panel', arguments: [summary.taskId] };
  return item;
}

/**
 * Words package.json's `when` clauses match: `task running`, or `task finished <status>`
 * (Resume for an interrupted one rather than Follow Up) and `forkable` when it has model
 * turns to fork from; `attempts` when it has attempts to compare (a fork cannot carry
 * them).
 */
function taskContext({ summary, attempts }: TaskState): string {
  const withAttempts = (attempts ?? []).length > 0;
  if (!isFinished(summary.status)) {
    return withAttempts ? 'task running attempts' : 'task running';
  }
  const forkable = (summary.turns ?? 0) > 0 && !withAttempts;
  return ['task', 'finished', summary.status, withAttempts ? 'attempts' : '', forkable ? 'forkable' : ''].filter(Boolean).join(' ');
}

function taskTooltip(tasks: Tasks, { summary }: TaskState): string {
  const lines = [summary.prompt, '', `${summary.mode} task ${summary.taskId}: ${summary.status}`];
  if (summary.forkedFrom) {
    const { taskId, atTurn } = summary.forkedFrom;
    const original = tasks.get(taskId)?.summary.prompt;
    lines.push(`Forked from ${original ? `“${shorten(original, 40)}” (${taskId})` : taskId} at turn ${atTurn}`);
  }
  lines.push(`Started ${new Date(summary.createdAt).toLocaleString()}`);
  if (summary.finishedAt) {
    lines.push(`Finished ${new Date(summary.finishedAt).toLocaleString()}`);
  }
  if (summary.turns) {
    lines.push(`${summary.turns} model turn${summary.turns === 1 ? '' : 's'}`);
  }
  if (summary.summary) {
    lines.push('', summary.summary);
  }
  return lines.join('\n');
}

/** How long ago `then` was, in the words of a task list: "just now", "5 min ago", "3 days ago". */
export function age(then: number, now: number): string {
  const minutes = Math.floor((now - then) / 60_000);
  if (minutes < 1) {
    return 'just now';
  }
  if (minutes < 60) {
    return `${minutes} min ago`;
  }
  const hours = Math.floor(minutes / 60);
  if (hours < 24) {
    return `${hours} h ago`;
  }
  const days = Math.floor(hours / 24);
  if (days < 30) {
    return days === 1 ? 'yesterday' : `${days} days ago`;
  }
  return new Date(then).toLocaleDateString();
}

function fileItem(taskId: string, file: ProposalFile): vscode.TreeItem {
  const uri = vscode.Uri.parse(file.uri);
  const item = new vscode.TreeItem(path.basename(uri.fsPath), vscode.TreeItemCollapsibleState.Expanded);
  item.id = `${taskId} ${file.uri}`;
  item.resourceUri = uri;
  const where = vscode.workspace.asRelativePath(uri);
  item.description = file.kind === 'rename' && file.newUri
    ? `rename · ${where} → ${vscode.workspace.asRelativePath(vscode.Uri.parse(file.newUri))}`
    : `${file.kind} · ${where}`;
  item.contextValue = 'file';
  item.command = { command: 'agentls.showProposedFile', title: 'Show Proposed File', arguments: [taskId, file.uri] };
  return item;
}

function hunkItem(taskId: string, uri: string, hunk: HunkInfo): vscode.TreeItem {
  const line = hunk.range.start.line + 1;
  const first = (hunk.newText || hunk.oldText).split('\n').find((l) => l.trim()) ?? '';
  const item = new vscode.TreeItem(`line ${line}: ${shorten(first.trim(), 50)}`);
  item.id = `${taskId} ${hunk.hunkId}`;
  const status = hunk.status === 'accepted' && hunk.proposedText !== undefined ? 'accepted (your version)' : hunk.status;
  item.description = hunk.reason ? `${status}: ${hunk.reason}` : status;
  item.iconPath = icon(HUNK_ICONS[hunk.status]);
  item.contextValue = isOpen(hunk.status) ? 'hunk-open' : hunk.status === 'accepted' ? 'hunk-accepted' : 'hunk';
  const start = new vscode.Position(hunk.range.start.line, hunk.range.start.character);
  item.command = {
    command: 'vscode.open',
    title: 'Reveal',
    arguments: [vscode.Uri.parse(uri), { selection: new vscode.Range(start, start) }],
  };
  return item;
}
