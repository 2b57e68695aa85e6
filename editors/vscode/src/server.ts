// Finding and starting the agentls binary: the one place that knows about the language
// client's lifecycle, so the rest of the extension only sends requests.

import * as fs from 'fs';
import * as path from 'path';
import * as vscode from 'vscode';
import {
  LanguageClient,
  LanguageClientOptions,
  ResponseError,
  ServerOptions,
} from 'vscode-languageclient/node';

const SERVER_NAME = 'agentls';

/** The binary to run, or why there is none (a message that says how to fix it). */
export function resolveServerPath(): { path: string } | { problem: string } {
  const configured = vscode.workspace.getConfiguration('agentls').get<string>('serverPath', '').trim();
  if (configured) {
    const expanded = configured.replace(/^~(?=$|\/)/, process.env.HOME ?? '~');
    return isExecutable(expanded)
      ? { path: expanded }
      : { problem: `agentls.serverPath is set to "${configured}", which is not an executable file. Fix the setting, or clear it to use \`agentls\` from PATH.` };
  }
  const found = searchPath(SERVER_NAME);
  return found
    ? { path: found }
    : {
        problem:
          'Cannot find the `agentls` server on PATH. Install it (`cargo install --path server` in the agentls repository) or set agentls.serverPath to the binary.',
      };
}

function searchPath(name: string): string | undefined {
  const dirs = (process.env.PATH ?? '').split(path.delimiter).filter(Boolean);
  const names = process.platform === 'win32' ? [`${name}.exe`, name] : [name];
  for (const dir of dirs) {
    for (const candidate of names) {
      const full = path.join(dir, candidate);
      if (isExecutable(full)) {
        return full;
      }
    }
  }
  return undefined;
}

function isExecutable(file: string): boolean {
  try {
    fs.accessSync(file, fs.constants.X_OK);
    return fs.statSync(file).isFile();
  } catch {
    return false;
  }
}

/**
 * Settings that become `initializationOptions`, under the config.toml key names. This
 * extension draws hunks itself (CodeLens, decorations), so it turns off the server's
 * hunk diagnostics and code lenses, which are for editors without a plugin.
 */
export function initializationOptions(): Record<string, string | boolean> {
  const config = vscode.workspace.getConfiguration('agentls');
  const options: Record<string, string | boolean> = { hunk_diagnostics: false, hunk_code_lens: false };
  const keys: Array<[setting: string, key: string]> = [
    ['model', 'model'],
    ['profile', 'profile'],
    ['approvalPolicy', 'approval_policy'],
  ];
  for (const [setting, key] of keys) {
    const value = config.get<string>(setting, '').trim();
    if (value) {
      options[key] = value;
    }
  }
  return options;
}

export function createClient(serverPath: string, output: vscode.LogOutputChannel): LanguageClient {
  // No `transport`: the client would append `--stdio`, and agentls serves stdio without
  // any argument.
  const serverOptions: ServerOptions = { command: serverPath };
  const clientOptions: LanguageClientOptions = {
    // Every file: the server only cares about documents inside the workspace, and hunks
    // can land in any language.
    documentSelector: [{ scheme: 'file' }],
    initializationOptions: initializationOptions(),
    outputChannel: output,
    // Our own messages say what failed; the client's generic popups would repeat them.
    initializationFailedHandler: (error) => {
      void vscode.window.showErrorMessage(`agentls failed to start: ${describeError(error)}`);
      return false;
    },
  };
  const client = new LanguageClient(SERVER_NAME, 'agentls', serverOptions, clientOptions);
  // `experimental.agent`: this client speaks the agent protocol (it reads
  // agent/taskUpdate), so the server does not repeat task news as window/showMessage;
  // `approvals`: it answers agent/requestApproval (approvals.ts), so the approval policy
  // asks here instead of denying.
  client.registerFeature({
    fillClientCapabilities: (capabilities) => {
      capabilities.experimental = { ...(capabilities.experimental ?? {}), agent: { version: 1, approvals: true } };
    },
    initialize: () => undefined,
    getState: () => ({ kind: 'static' }),
    clear: () => undefined,
  });
  return client;
}

/** A readable sentence for an error from a request or from the client itself. */
export function describeError(error: unknown): string {
  if (error instanceof ResponseError) {
    if (error.code === -32601) {
      return 'this agentls server does not support that request yet; update agentls';
    }
    return error.message;
  }
  if (error instanceof Error) {
    return error.message;
  }
  return String(error);
}
