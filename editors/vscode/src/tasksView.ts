// The "Agent Tasks" tree in the Explorer: task → files → hunks, each with an icon for its
// status. Selecting a hunk reveals it in the editor; a file opens the proposed-file diff.

import * as path from 'path';
import * as vscode from 'vscode';
import { HunkInfo, ProposalFile, TaskStatus } from './protocol';
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

  constructor(private readonly tasks: Tasks) {
    this.subscription = tasks.onDidChange(() => this.changed.fire(undefined));
  }

  dispose(): void {
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
        return taskItem(this.tasks.get(node.taskId));
      case 'file':
        return fileItem(node.taskId, node.file);
      case 'hunk':
        return hunkItem(node.uri, node.hunk);
    }
  }
}

function icon([id, color]: [string, string?]): vscode.ThemeIcon {
  return new vscode.ThemeIcon(id, color ? new vscode.ThemeColor(color) : undefined);
}

function taskItem(state: TaskState | undefined): vscode.TreeItem {
  if (!state) {
    return new vscode.TreeItem('(unknown task)');
  }
  const { summary } = state;
  const files = state.proposal?.files.length ?? 0;
  const item = new vscode.TreeItem(
    shorten(summary.prompt),
    files > 0 ? vscode.TreeItemCollapsibleState.Expanded : vscode.TreeItemCollapsibleState.None,
  );
  const open = state.proposal?.files.flatMap((f) => f.hunks).filter((h) => isOpen(h.status)).length ?? 0;
  item.description = open > 0 ? `${summary.status} · ${open} to review` : summary.status;
  item.tooltip = `${summary.prompt}\n\n${summary.mode} task ${summary.taskId}: ${summary.status}${summary.summary ? `\n${summary.summary}` : ''}`;
  item.iconPath = icon(TASK_ICONS[summary.status]);
  item.contextValue = summary.status === 'running' || summary.status === 'queued' ? 'task-running' : 'task';
  item.command = { command: 'agentls.openTaskPanel', title: 'Open Task Panel', arguments: [summary.taskId] };
  return item;
}

function fileItem(taskId: string, file: ProposalFile): vscode.TreeItem {
  const uri = vscode.Uri.parse(file.uri);
  const item = new vscode.TreeItem(path.basename(uri.fsPath), vscode.TreeItemCollapsibleState.Expanded);
  item.resourceUri = uri;
  const where = vscode.workspace.asRelativePath(uri);
  item.description = file.kind === 'rename' && file.newUri
    ? `rename · ${where} → ${vscode.workspace.asRelativePath(vscode.Uri.parse(file.newUri))}`
    : `${file.kind} · ${where}`;
  item.contextValue = 'file';
  item.command = { command: 'agentls.showProposedFile', title: 'Show Proposed File', arguments: [taskId, file.uri] };
  return item;
}

function hunkItem(uri: string, hunk: HunkInfo): vscode.TreeItem {
  const line = hunk.range.start.line + 1;
  const first = (hunk.newText || hunk.oldText).split('\n').find((l) => l.trim()) ?? '';
  const item = new vscode.TreeItem(`line ${line}: ${shorten(first.trim(), 50)}`);
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
