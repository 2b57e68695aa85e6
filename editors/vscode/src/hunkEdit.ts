// "Accept Hunk with My Edit…": a pending hunk's proposed text opens as a document of the
// `agentls-edit:` file system, in the source file's language. Saving it (Ctrl+S, or its
// "Accept This Version" CodeLens) sends `agent/resolveHunks` with `edits`: the server
// applies the user's version and keeps the task's as `proposedText` for a follow-up.
//
// A file system rather than an untitled document: saving *is* accepting, a refused save
// is shown by VS Code as a failed save with the server's reason while the document stays
// dirty (nothing typed is lost), and closing without saving abandons without a
// "Save As" dialog.

import * as path from 'node:path';
import * as vscode from 'vscode';
import { HunkInfo, ResolveHunksResult } from './protocol';
import { describeError } from './server';
import { HunkRef, sameUri, Tasks } from './tasks';

const SCHEME = 'agentls-edit';

/** What an edit document holds between reads and the save that accepts it. */
interface Draft {
  text: Uint8Array;
  mtime: number;
}

export class HunkEdits implements vscode.FileSystemProvider, vscode.Disposable {
  private readonly drafts = new Map<string, Draft>();
  private readonly changed = new vscode.EventEmitter<vscode.FileChangeEvent[]>();
  private readonly disposables: vscode.Disposable[] = [];
  readonly onDidChangeFile = this.changed.event;

  constructor(private readonly tasks: Tasks) {
    this.disposables.push(
      this.changed,
      vscode.workspace.registerFileSystemProvider(SCHEME, this, { isCaseSensitive: true }),
      vscode.languages.registerCodeLensProvider({ scheme: SCHEME }, { provideCodeLenses: (doc) => lenses(doc) }),
      vscode.workspace.onDidSaveTextDocument((doc) => this.onSaved(doc)),
      vscode.workspace.onDidCloseTextDocument((doc) => this.drafts.delete(doc.uri.toString())),
    );
  }

  dispose(): void {
    this.disposables.forEach((d) => d.dispose());
  }

  /** Opens a pending hunk's proposed text beside its file, ready to edit. */
  async open(ref: HunkRef): Promise<void> {
    const uri = vscode.Uri.from({
      scheme: SCHEME,
      path: `/${ref.taskId}/${ref.hunk.hunkId}/${path.posix.basename(vscode.Uri.parse(ref.uri).path)}`,
    });
    // Start from the proposal as it is now, also when an earlier draft is still cached.
    this.drafts.set(uri.toString(), { text: new TextEncoder().encode(ref.hunk.newText), mtime: Date.now() });
    this.changed.fire([{ type: vscode.FileChangeType.Changed, uri }]);
    let doc = await vscode.workspace.openTextDocument(uri);
    const source = vscode.workspace.textDocuments.find((d) => sameUri(d.uri.toString(), ref.uri));
    if (source && source.languageId !== doc.languageId) {
      doc = await vscode.languages.setTextDocumentLanguage(doc, source.languageId);
    }
    await vscode.window.showTextDocument(doc, { viewColumn: vscode.ViewColumn.Beside, preview: false });
  }

  stat(uri: vscode.Uri): vscode.FileStat {
    const draft = this.draft(uri);
    return { type: vscode.FileType.File, ctime: draft.mtime, mtime: draft.mtime, size: draft.text.byteLength };
  }

  readFile(uri: vscode.Uri): Uint8Array {
    return this.draft(uri).text;
  }

  /** Saving accepts: the hunk with the document's text. Throws (the save fails) when refused. */
  async writeFile(uri: vscode.Uri, content: Uint8Array): Promise<void> {
    const { taskId, hunkId } = parse(uri);
    const ref = this.tasks.find({ taskId, hunkId });
    if (!ref) {
      throw vscode.FileSystemError.Unavailable(`agentls: hunk ${hunkId} is no longer in this window's proposals; nothing was accepted`);
    }
    const text = withLineBreak(new TextDecoder().decode(content), ref.hunk);
    let result: ResolveHunksResult;
    try {
      result = await this.tasks.acceptEdited(taskId, hunkId, text);
    } catch (error) {
      throw vscode.FileSystemError.Unavailable(`agentls: your version was not accepted: ${describeError(error)}`);
    }
    const why = refusal(result, hunkId);
    if (why) {
      throw vscode.FileSystemError.Unavailable(`agentls: your version was not accepted: ${why}`);
    }
    this.drafts.set(uri.toString(), { text: content, mtime: Date.now() });
  }

  watch(): vscode.Disposable {
    return new vscode.Disposable(() => undefined);
  }

  readDirectory(): [string, vscode.FileType][] {
    throw vscode.FileSystemError.NoPermissions('agentls edit documents are single files');
  }

  createDirectory(): void {
    throw vscode.FileSystemError.NoPermissions('agentls edit documents are single files');
  }

  delete(): void {
    throw vscode.FileSystemError.NoPermissions('close the edit document instead');
  }

  rename(): void {
    throw vscode.FileSystemError.NoPermissions('close the edit document instead');
  }

  private draft(uri: vscode.Uri): Draft {
    const draft = this.drafts.get(uri.toString());
    if (!draft) {
      throw vscode.FileSystemError.FileNotFound(uri);
    }
    return draft;
  }

  /** "Accept This Version": saves the edit document given or shown, which accepts it. */
  async accept(given?: vscode.Uri): Promise<void> {
    const doc = editDocument(given);
    if (!doc) {
      return;
    }
    if (doc.isDirty) {
      await doc.save();
      return;
    }
    // Unchanged: saving would write nothing, so send the text as it is.
    await this.writeFile(doc.uri, new TextEncoder().encode(doc.getText()));
    await closeEditors(doc);
  }

  /** "Discard": closes the edit document without accepting; the hunk stays pending. */
  async discard(given?: vscode.Uri): Promise<void> {
    const doc = editDocument(given);
    if (doc) {
      await vscode.window.showTextDocument(doc);
      await vscode.commands.executeCommand('workbench.action.revertAndCloseActiveEditor');
    }
  }

  /** An accepted edit is done: close its editors. */
  private async onSaved(doc: vscode.TextDocument): Promise<void> {
    if (doc.uri.scheme === SCHEME) {
      await closeEditors(doc);
    }
  }
}

/** The edit document `given`, else the active one; undefined (and a hint) if none. */
function editDocument(given?: vscode.Uri): vscode.TextDocument | undefined {
  const uri = given ?? vscode.window.activeTextEditor?.document.uri;
  const doc = vscode.workspace.textDocuments.find((d) => d.uri.toString() === uri?.toString());
  if (!doc || doc.uri.scheme !== SCHEME) {
    void vscode.window.showInformationMessage('agentls: no hunk edit is open here; run "Agent: Accept Hunk with My Edit…" on a hunk first.');
    return undefined;
  }
  return doc;
}

async function closeEditors(doc: vscode.TextDocument): Promise<void> {
  const tabs = vscode.window.tabGroups.all
    .flatMap((group) => group.tabs)
    .filter((tab) => tab.input instanceof vscode.TabInputText && tab.input.uri.toString() === doc.uri.toString());
  await vscode.window.tabGroups.close(tabs);
}

function lenses(doc: vscode.TextDocument): vscode.CodeLens[] {
  if (doc.uri.scheme !== SCHEME) {
    return [];
  }
  const top = new vscode.Range(0, 0, 0, 0);
  return [
    new vscode.CodeLens(top, {
      title: '$(check) Accept This Version',
      command: 'agentls.acceptHunkEdit',
      arguments: [doc.uri],
      tooltip: 'Accept the hunk with this text instead of the proposed one (same as saving)',
    }),
    new vscode.CodeLens(top, {
      title: 'Discard',
      command: 'agentls.discardHunkEdit',
      arguments: [doc.uri],
      tooltip: 'Close without accepting; the hunk stays pending',
    }),
  ];
}

function parse(uri: vscode.Uri): { taskId: string; hunkId: string } {
  const [, taskId, hunkId] = uri.path.split('/');
  if (!taskId || !hunkId) {
    throw vscode.FileSystemError.FileNotFound(uri);
  }
  return { taskId, hunkId };
}

/**
 * A hunk of whole lines ends with a line break; keep it when the user's text lost it
 * (select-all and retype), so the next line is not joined to theirs. Empty stays empty:
 * the hunk then deletes what it covers.
 */
function withLineBreak(text: string, hunk: HunkInfo): string {
  const proposed = hunk.newText || hunk.oldText;
  return text !== '' && proposed.endsWith('\n') && !text.endsWith('\n') ? `${text}\n` : text;
}

/** Why the server did not accept the hunk, or undefined when it did. */
function refusal(result: ResolveHunksResult, hunkId: string): string | undefined {
  const refused = result.refused?.find((r) => r.hunkId === hunkId);
  if (refused) {
    return refused.reason;
  }
  const state = result.hunks.find((h) => h.hunkId === hunkId);
  if (!state) {
    return 'the server no longer knows this hunk';
  }
  return state.status === 'accepted' ? undefined : `it is ${state.status}${state.reason ? `: ${state.reason}` : ''}`;
}
