// Reviewing a proposal where the code is: a CodeLens "Accept | Edit & Accept | Reject"
// above each open hunk ("Refresh | Reject" for a stale one, "Undo" for an accepted one),
// decorations that show the proposed change in place (the text it replaces struck through,
// the text it adds shown after it), and a diff editor of a whole file as the task would
// leave it. The document itself is never changed until the user accepts.

import * as vscode from 'vscode';
import { HunkInfo, ProposalFile } from './protocol';
import { HunkRef, isOpen, Tasks } from './tasks';

/** `agentls-proposed:` documents: a file with every open hunk of one task applied. */
const PROPOSED_SCHEME = 'agentls-proposed';

/** Longest inline preview of added text; the hover shows all of it. */
const PREVIEW_CHARS = 120;

export class Review implements vscode.Disposable {
  private readonly disposables: vscode.Disposable[] = [];
  private readonly lensesChanged = new vscode.EventEmitter<void>();
  private readonly proposedChanged = new vscode.EventEmitter<vscode.Uri>();
  private readonly removed = vscode.window.createTextEditorDecorationType({
    backgroundColor: new vscode.ThemeColor('diffEditor.removedTextBackground'),
    textDecoration: 'line-through',
    overviewRulerColor: new vscode.ThemeColor('editorOverviewRuler.deletedForeground'),
    overviewRulerLane: vscode.OverviewRulerLane.Left,
  });
  private readonly added = vscode.window.createTextEditorDecorationType({
    after: {
      backgroundColor: new vscode.ThemeColor('diffEditor.insertedTextBackground'),
      color: new vscode.ThemeColor('editor.foreground'),
      margin: '0 0 0 1em',
    },
    overviewRulerColor: new vscode.ThemeColor('editorOverviewRuler.addedForeground'),
    overviewRulerLane: vscode.OverviewRulerLane.Left,
  });
  private readonly troubled = vscode.window.createTextEditorDecorationType({
    isWholeLine: true,
    backgroundColor: new vscode.ThemeColor('inputValidation.warningBackground'),
    border: '1px dashed',
    borderColor: new vscode.ThemeColor('editorWarning.foreground'),
    overviewRulerColor: new vscode.ThemeColor('editorOverviewRuler.warningForeground'),
    overviewRulerLane: vscode.OverviewRulerLane.Left,
  });
  private refreshTimer: NodeJS.Timeout | undefined;
  private readonly typedIn = new Set<string>();

  constructor(private readonly tasks: Tasks) {
    this.disposables.push(
      this.removed,
      this.added,
      this.troubled,
      this.lensesChanged,
      this.proposedChanged,
      vscode.languages.registerCodeLensProvider({ scheme: 'file' }, this.codeLenses()),
      vscode.workspace.registerTextDocumentContentProvider(PROPOSED_SCHEME, this.proposedContent()),
      vscode.window.onDidChangeVisibleTextEditors(() => this.redraw()),
      vscode.workspace.onDidChangeTextDocument((event) => this.onTyped(event)),
      tasks.onDidChange(() => this.redraw()),
    );
  }

  dispose(): void {
    clearTimeout(this.refreshTimer);
    this.disposables.forEach((d) => d.dispose());
  }

  /** Opens a diff editor: the file now on the left, as the task would leave it on the right. */
  async showProposedFile(taskId: string, uri: vscode.Uri): Promise<void> {
    const proposed = uri.with({ scheme: PROPOSED_SCHEME, query: taskId });
    const name = vscode.workspace.asRelativePath(uri);
    await vscode.commands.executeCommand('vscode.diff', uri, proposed, `${name} ↔ proposed by agent`);
  }

  private redraw(): void {
    this.lensesChanged.fire();
    for (const editor of vscode.window.visibleTextEditors) {
      this.decorate(editor);
    }
    for (const doc of vscode.workspace.textDocuments) {
      if (doc.uri.scheme === PROPOSED_SCHEME) {
        this.proposedChanged.fire(doc.uri);
      }
    }
  }

  private decorate(editor: vscode.TextEditor): void {
    if (editor.document.uri.scheme !== 'file') {
      return;
    }
    const removed: vscode.DecorationOptions[] = [];
    const added: vscode.DecorationOptions[] = [];
    const troubled: vscode.DecorationOptions[] = [];
    for (const ref of this.tasks.hunksIn(editor.document.uri)) {
      const { hunk } = ref;
      if (!isOpen(hunk.status)) {
        continue;
      }
      const range = toRange(hunk);
      const hoverMessage = hover(hunk, this.tasks.fileOf(ref));
      if (hunk.status !== 'pending') {
        troubled.push({ range, hoverMessage });
      }
      if (!range.isEmpty) {
        removed.push({ range, hoverMessage });
      }
      if (hunk.newText) {
        const at = previewAnchor(editor.document, range);
        added.push({
          range: new vscode.Range(at, at),
          hoverMessage,
          renderOptions: { after: { contentText: preview(hunk.newText) } },
        });
      }
    }
    editor.setDecorations(this.removed, removed);
    editor.setDecorations(this.added, added);
    editor.setDecorations(this.troubled, troubled);
  }

  private codeLenses(): vscode.CodeLensProvider {
    return {
      onDidChangeCodeLenses: this.lensesChanged.event,
      provideCodeLenses: (document) => this.tasks
        .hunksIn(document.uri)
        .filter((ref) => isOpen(ref.hunk.status) || ref.hunk.status === 'accepted')
        .flatMap((ref) => lensesFor(ref, this.tasks)),
    };
  }

  private proposedContent(): vscode.TextDocumentContentProvider {
    return {
      onDidChange: this.proposedChanged.event,
      provideTextDocumentContent: async (uri) => {
        const fileUri = uri.with({ scheme: 'file', query: '' });
        const document = await vscode.workspace.openTextDocument(fileUri);
        const hunks = this.tasks
          .hunksIn(fileUri)
          .filter((ref) => ref.taskId === uri.query && isOpen(ref.hunk.status))
          .map((ref) => ref.hunk);
        return applyHunks(document, hunks);
      },
    };
  }

  /**
   * The server moves hunk ranges as the user types but only notifies status changes, so
   * refetch the proposals of a file shortly after it changes.
   */
  private onTyped(event: vscode.TextDocumentChangeEvent): void {
    if (event.contentChanges.length === 0 || !this.tasks.hunksIn(event.document.uri).some((ref) => isOpen(ref.hunk.status))) {
      return;
    }
    this.typedIn.add(event.document.uri.toString());
    clearTimeout(this.refreshTimer);
    this.refreshTimer = setTimeout(() => {
      for (const uri of this.typedIn) {
        this.tasks.refreshFile(vscode.Uri.parse(uri));
      }
      this.typedIn.clear();
    }, 150);
  }
}

function lensesFor(ref: HunkRef, tasks: Tasks): vscode.CodeLens[] {
  const { taskId, hunk } = ref;
  const at = new vscode.Range(hunk.range.start.line, 0, hunk.range.start.line, 0);
  const args = [taskId, hunk.hunkId];
  const lens = (title: string, command = '', tooltip?: string) =>
    new vscode.CodeLens(at, { title, command, arguments: command ? args : undefined, tooltip });
  const lenses: vscode.CodeLens[] = [];
  const change = fileChange(tasks.fileOf(ref));
  if (change) {
    lenses.push(lens(`$(file) ${change}`));
  }
  switch (hunk.status) {
    case 'accepted':
      if (hunk.proposedText !== undefined) {
        lenses.push(lens('$(edit) Accepted (your version)', '', 'You accepted your own text; a follow-up shows the agent what it proposed and what you wrote'));
      }
      lenses.push(lens('$(discard) Undo', 'agentls.undoHunk', 'Take this change back out; the hunk is pending again'));
      return lenses;
    case 'stale':
      lenses.push(
        lens(`$(warning) Stale: ${hunk.reason ?? 'the text under this hunk changed'}`),
        lens('Refresh', 'agentls.refreshHunk', 'Merge the proposed change into the current text'),
      );
      break;
    case 'conflict': {
      // It can be accepted once the other hunk is decided: the lens goes there.
      const other = hunk.conflictsWith;
      lenses.push(other
        ? new vscode.CodeLens(at, {
          title: `$(error) Conflicts with ${tasks.describeHunk(other)}`,
          command: 'agentls.revealHunk',
          arguments: [other.taskId, other.hunkId],
          tooltip: 'Go to that hunk: accept or reject it first',
        })
        : lens('$(error) Conflicts with another task'));
      break;
    }
    default:
      lenses.push(
        lens('Accept', 'agentls.acceptHunk', 'Apply this change'),
        lens('Edit & Accept', 'agentls.acceptHunkWithEdit', 'Edit the proposed text, then save it to accept your version'),
      );
  }
  lenses.push(lens('Reject', 'agentls.rejectHunk', 'Drop this change'));
  return lenses;
}

/** What accepting does to the file itself, for a create, delete or rename. */
function fileChange(file: ProposalFile | undefined): string | undefined {
  switch (file?.kind) {
    case 'create':
      return 'Creates this file';
    case 'delete':
      return 'Deletes this file';
    case 'rename':
      return file.newUri ? `Renames ${relative(file.uri)} → ${relative(file.newUri)}` : undefined;
    default:
      return undefined;
  }
}

function relative(uri: string): string {
  return vscode.workspace.asRelativePath(vscode.Uri.parse(uri));
}

function toRange(hunk: HunkInfo): vscode.Range {
  const { start, end } = hunk.range;
  return new vscode.Range(start.line, start.character, end.line, end.character);
}

/**
 * Where the added text is shown: after the replaced text, except that a hunk ending at
 * the start of a line (whole lines replaced or inserted) shows it at the end of the line
 * before, not glued to the next line's text.
 */
function previewAnchor(document: vscode.TextDocument, range: vscode.Range): vscode.Position {
  if (range.end.character === 0 && range.end.line > 0) {
    return document.lineAt(range.end.line - 1).range.end;
  }
  return range.end;
}

function preview(text: string): string {
  const oneLine = text.replace(/\n$/, '').replace(/\n/g, ' ⏎ ');
  return oneLine.length > PREVIEW_CHARS ? `${oneLine.slice(0, PREVIEW_CHARS - 1)}…` : oneLine;
}

function hover(hunk: HunkInfo, file: ProposalFile | undefined): vscode.MarkdownString {
  const markdown = new vscode.MarkdownString();
  markdown.appendMarkdown(`**Proposed change** (${hunk.status}${hunk.reason ? `: ${hunk.reason}` : ''})\n\n`);
  const change = fileChange(file);
  if (change) {
    markdown.appendMarkdown(`${change}\n\n`);
  }
  if (hunk.currentText !== undefined && hunk.status !== 'pending') {
    // Stale or conflicting: the user's text now against what the agent wants there.
    markdown.appendMarkdown('Yours now:\n');
    markdown.appendCodeblock(hunk.currentText || '(nothing)');
    markdown.appendMarkdown('The agent proposes:\n');
    markdown.appendCodeblock(hunk.newText || '(nothing)');
    return markdown;
  }
  const diff = [
    ...lines(hunk.oldText).map((l) => `-${l}`),
    ...lines(hunk.newText).map((l) => `+${l}`),
  ].join('\n');
  markdown.appendCodeblock(diff, 'diff');
  return markdown;
}

function lines(text: string): string[] {
  return text === '' ? [] : text.replace(/\n$/, '').split('\n');
}

/** The document text with the hunks' replacements made, last first so ranges stay valid. */
export function applyHunks(document: vscode.TextDocument, hunks: HunkInfo[]): string {
  let text = document.getText();
  const ordered = [...hunks].sort((a, b) => document.offsetAt(toRange(b).start) - document.offsetAt(toRange(a).start));
  for (const hunk of ordered) {
    const range = toRange(hunk);
    text = text.slice(0, document.offsetAt(range.start)) + hunk.newText + text.slice(document.offsetAt(range.end));
  }
  return text;
}
