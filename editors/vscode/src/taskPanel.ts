// One webview panel per task, showing its transcript (assistant messages, reasoning, plan,
// tool calls and their results, errors) as it streams in. The panel gets the whole
// transcript on every change and redraws; transcripts are small and updates are coalesced
// by the server (≤ 20 per second), so this stays cheap and never loses a delta.

import * as crypto from 'crypto';
import * as vscode from 'vscode';
import { shorten, Tasks } from './tasks';

export class TaskPanels implements vscode.Disposable {
  private readonly panels = new Map<string, vscode.WebviewPanel>();
  private readonly subscription: vscode.Disposable;

  constructor(private readonly tasks: Tasks) {
    this.subscription = tasks.onDidChange((taskId) => {
      for (const [id, panel] of this.panels) {
        if (taskId === undefined || taskId === id) {
          this.post(id, panel);
        }
      }
    });
  }

  dispose(): void {
    this.subscription.dispose();
    this.panels.forEach((panel) => panel.dispose());
  }

  show(taskId: string, preserveFocus: boolean): void {
    const existing = this.panels.get(taskId);
    if (existing) {
      existing.reveal(undefined, preserveFocus);
      return;
    }
    const title = `Agent: ${shorten(this.tasks.get(taskId)?.summary.prompt ?? taskId, 30)}`;
    const panel = vscode.window.createWebviewPanel('agentls.task', title, { viewColumn: vscode.ViewColumn.Beside, preserveFocus }, {
      enableScripts: true,
      retainContextWhenHidden: true,
    });
    panel.webview.html = html(crypto.randomBytes(16).toString('base64'), panel.webview.cspSource);
    panel.onDidDispose(() => this.panels.delete(taskId));
    panel.webview.onDidReceiveMessage((message: { ready?: boolean }) => {
      if (message.ready) {
        this.post(taskId, panel);
      }
    });
    this.panels.set(taskId, panel);
  }

  private post(taskId: string, panel: vscode.WebviewPanel): void {
    const state = this.tasks.get(taskId);
    if (state) {
      void panel.webview.postMessage({ summary: state.summary, transcript: state.transcript });
    } else {
      // Deleted, or gone from the server's history after a restart.
      panel.dispose();
    }
  }
}

function html(nonce: string, cspSource: string): string {
  return `<!DOCTYPE html>
<html lang="en"><head><meta charset="UTF-8">
<meta http-equiv="Content-Security-Policy" content="default-src 'none'; style-src ${cspSource} 'nonce-${nonce}'; script-src 'nonce-${nonce}';">
<style nonce="${nonce}">
  body { font-family: var(--vscode-font-family); font-size: var(--vscode-font-size); color: var(--vscode-foreground); }
  h2 { font-size: 1.1em; margin: 0.2em 0 0.8em; }
  .status { opacity: 0.8; font-weight: normal; }
  .entry { margin: 0.5em 0; white-space: pre-wrap; }
  .reasoning { opacity: 0.7; font-style: italic; }
  .tool, .plan { border-left: 3px solid var(--vscode-textLink-foreground); padding-left: 0.6em; }
  .tool.failed { border-color: var(--vscode-errorForeground); }
  .tool pre { margin: 0.3em 0 0; max-height: 12em; overflow: auto; font-family: var(--vscode-editor-font-family); }
  .error { color: var(--vscode-errorForeground); }
  .finished { font-weight: bold; }
  .follow-up { font-weight: bold; border-top: 1px solid var(--vscode-panel-border); padding-top: 0.5em; }
  summary { cursor: pointer; }
</style></head>
<body><h2 id="title"></h2><div id="log"></div>
<script nonce="${nonce}">
  const vscode = acquireVsCodeApi();
  const log = document.getElementById('log');
  const title = document.getElementById('title');
  const el = (tag, cls, text) => { const e = document.createElement(tag); if (cls) e.className = cls; if (text !== undefined) e.textContent = text; return e; };
  const planMark = { pending: '○', in_progress: '◐', completed: '●' };
  function render(entry) {
    switch (entry.type) {
      case 'followUp': return el('div', 'entry follow-up', 'Follow-up: ' + entry.prompt);
      case 'message': return el('div', 'entry message', entry.text);
      case 'reasoning': return el('div', 'entry reasoning', entry.text);
      case 'plan': {
        const box = el('div', 'entry plan', entry.explanation ? entry.explanation + '\\n' : '');
        for (const item of entry.plan) box.appendChild(el('div', '', planMark[item.status] + ' ' + item.step));
        return box;
      }
      case 'tool': {
        const box = el('details', 'entry tool' + (entry.ok === false || entry.status === 'failed' ? ' failed' : ''));
        const mark = entry.status === 'running' ? '…' : entry.ok === false || entry.status === 'failed' ? '✗' : '✓';
        box.appendChild(el('summary', '', mark + ' ' + entry.tool));
        box.appendChild(el('pre', '', JSON.stringify(entry.args, null, 2)));
        if (entry.output !== undefined) box.appendChild(el('pre', '', entry.output));
        return box;
      }
      case 'error': return el('div', 'entry error', (entry.willRetry ? 'retrying: ' : 'error: ') + entry.message);
      case 'finished': return el('div', 'entry finished', 'Task ' + entry.status + (entry.summary ? ': ' + entry.summary : ''));
    }
    return el('div', 'entry', JSON.stringify(entry));
  }
  window.addEventListener('message', (event) => {
    const { summary, transcript } = event.data;
    title.textContent = summary.prompt + ' ';
    title.appendChild(el('span', 'status', '(' + summary.status + ')'));
    const open = new Set([...log.querySelectorAll('details[open]')].map((d) => d.dataset.index));
    const atBottom = window.innerHeight + window.scrollY >= document.body.scrollHeight - 20;
    log.replaceChildren(...transcript.map((entry, index) => {
      const node = render(entry);
      node.dataset.index = String(index);
      if (open.has(String(index))) node.open = true;
      return node;
    }));
    if (atBottom) window.scrollTo(0, document.body.scrollHeight);
  });
  vscode.postMessage({ ready: true });
</script></body></html>`;
}
