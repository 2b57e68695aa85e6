// `agent/requestApproval`: the server asks before running a command, writing a patch or
// using the network (docs/protocol.md). The user answers in a modal dialog that shows exactly what
// would run: the command and its directory, or the diff. The policy itself is enforced by
// the server; this only asks.

import * as vscode from 'vscode';
import { ApprovalDecision, RequestApprovalParams } from './protocol';
import { shorten, Tasks } from './tasks';

/** A modal's detail text is not scrollable: show the start of a long diff. */
const MAX_DETAIL_LINES = 40;

const CHOICES: Array<{ title: string; decision: ApprovalDecision }> = [
  { title: 'Allow', decision: 'allow' },
  { title: 'Allow for Task', decision: 'allowForTask' },
  { title: 'Deny', decision: 'deny' },
];

export async function askApproval(tasks: Tasks, params: RequestApprovalParams): Promise<{ decision: ApprovalDecision }> {
  const prompt = tasks.get(params.taskId)?.summary.prompt;
  const task = prompt ? ` (task "${shorten(prompt, 40)}")` : '';
  const message = `${headline(params)}${task}`;
  const picked = await vscode.window.showWarningMessage(
    message,
    { modal: true, detail: detail(params) },
    ...CHOICES.map((c) => ({ title: c.title, decision: c.decision })),
  );
  // Closing the dialog is a "no" for this call, not a reason to stop the whole task.
  return { decision: picked?.decision ?? 'deny' };
}

function headline(params: RequestApprovalParams): string {
  switch (params.kind) {
    case 'command':
      return 'The agent wants to run a command';
    case 'patch':
      return 'The agent wants to change files';
    case 'network':
      return 'The agent wants network access';
    default:
      return `The agent asks for permission (${String(params.kind)})`;
  }
}

function detail(params: RequestApprovalParams): string {
  const parts: string[] = [];
  if (params.command !== undefined) {
    const command = Array.isArray(params.command) ? params.command.map(quote).join(' ') : params.command;
    parts.push(`$ ${command}`);
  }
  if (params.cwd) {
    parts.push(`in ${params.cwd}`);
  }
  if (params.reason) {
    parts.push(`Reason: ${params.reason}`);
  }
  if (params.diff) {
    const lines = params.diff.split('\n');
    const shown = lines.slice(0, MAX_DETAIL_LINES).join('\n');
    const more = lines.length > MAX_DETAIL_LINES ? `\n… ${lines.length - MAX_DETAIL_LINES} more lines` : '';
    parts.push(shown + more);
  }
  return parts.join('\n\n');
}

function quote(arg: string): string {
  return /^[\w@%+=:,./-]+$/.test(arg) ? arg : `'${arg.replace(/'/g, `'\\''`)}'`;
}
