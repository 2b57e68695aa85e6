// Reviewing a proposal where the code is: a CodeLens "Accept | Reject" above each open
// hunk, decorations that show the proposed change in place (the text it replaces struck
// through, the text it adds shown after it), and a diff editor of a whole file as the task
// would leave it. The document itself is never changed until the user accepts.

import * as vscode from 'vscode';
import { HunkInfo } from './protocol';
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
      const hoverMessage = hover(hunk);
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
      provideCodeLenses: (document) => this.tasks.hunksIn(document.uri).filter((ref) => isOpen(ref.hunk.status)).flatMap(lensesFor),
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

function lensesFor(ref: HunkRef): vscode.CodeLens[] {
  const { taskId, hunk } = ref;
  const at = new vscode.Range(hunk.range.start.line, 0, hunk.range.start.line, 0);
  const args = [taskId, hunk.hunkId];
  const lenses: vscode.CodeLens[] = [];
  if (hunk.status === 'stale') {
    lenses.push(new vscode.CodeLens(at, { title: `$(warning) Stale: ${hunk.reason ?? 'the text under this hunk changed'}`, command: '' }));
  } else if (hunk.status === 'conflict') {
    lenses.push(new vscode.CodeLens(at, { title: '$(error) Conflicts with another task', command: '' }));
  }
  if (hunk.status !== 'stale') {
    lenses.push(new vscode.CodeLens(at, { title: 'Accept', command: 'agentls.acceptHunk', arguments: args, tooltip: 'Apply this change' }));
  }
  lenses.push(new vscode.CodeLens(at, { title: 'Reject', command: 'agentls.rejectHunk', arguments: args, tooltip: 'Drop this change' }));
  return lenses;
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

function hover(hunk: HunkInfo): vscode.MarkdownString {
  const diff = [
    ...lines(hunk.oldText).map((l) => `-${l}`),
    ...lines(hunk.newText).map((l) => `+${l}`),
  ].join('\n');
  const markdown = new vscode.MarkdownString();
  markdown.appendMarkdown(`**Proposed change** (${hunk.status}${hunk.reason ? `: ${hunk.reason}` : ''})\n\n`);
  markdown.appendCodeblock(diff, 'diff');
  return markdown;
}

function lines(text: string): string[] {
  return text === '' ? [] : text.replace(/\n$/, '').split('\n');
}

/** The document text with the hunks' replacements made, last first so ranges stay valid. */
function applyHunks(document: vscode.TextDocument, hunks: HunkInfo[]): string {
  let text = document.getText();
  const ordered = [...hunks].sort((a, b) => document.offsetAt(toRange(b).start) - document.offsetAt(toRange(a).start));
  for (const hunk of ordered) {
    const range = toRange(hunk);
    text = text.slice(0, document.offsetAt(range.start)) + hunk.newText + text.slice(document.offsetAt(range.end));
  }
  return text;
}
