// A scripted ACP agent (protocol version 1) for agentls's hosting tests: newline-delimited
// JSON-RPC on stdio, no dependencies. It does what a scenario file says, one list of steps
// per `session/prompt`, and logs every message it receives (one JSON line each) so a test
// can check what agentls sent.
//
// Usage: node scripted-agent.mjs SCENARIO.json
// SCENARIO: {
//   "log": "/path/received.jsonl",          every message agentls sent, appended
//   "protocolVersion": 1,                   what `initialize` answers (default 1)
//   "loadSession": false,                   advertise session/load
//   "authRequired": "VAR",                  session/new fails with auth_required until
//                                           `authenticate` with the env_var method of VAR
//   "exitDuringInitialize": 7,              exit with this status instead of answering
//   "turns": [[step, …], …]                 the n-th prompt (counted over the log, so
//                                           across processes) runs turns[n]
// }
// Steps:
//   {"message": "text"}                     an agent_message_chunk
//   {"thought": "text"}                     an agent_thought_chunk
//   {"plan": [["step", "pending"|"in_progress"|"completed"], …]}
//   {"read": "rel/path"}                    fs/read_text_file; says "read PATH: TEXT"
//   {"write": "rel/path", "text": "…"}      fs/write_text_file inside an edit tool call
//   {"diskWrite": "rel/path", "text": "…"}  writes the file itself (as codex-acp does),
//                                           reporting a diff in an edit tool call
//   {"terminal": ["sed", "-i", …]}          terminal/create + wait_for_exit + output +
//                                           release, inside an execute tool call; says
//                                           "exit N: OUTPUT"
//   {"permission": "title", "diff": {"path": "rel", "old": "…", "new": "…"}}
//                                           session/request_permission; says "permission: ID"
//   {"usage": [used, size]}                 a usage_update
//   {"crash": 3}                            writes to stderr, exits with 3
//   {"hang": true}                          waits for session/cancel, then ends the turn
//                                           `cancelled`
import { appendFileSync, readFileSync, writeFileSync, existsSync } from 'node:fs';
import { createInterface } from 'node:readline';
import { join } from 'node:path';

const scenario = JSON.parse(readFileSync(process.argv[2], 'utf8'));
const logFile = scenario.log;
let nextId = 1000;
const waiting = new Map();
let cwd = process.cwd();
let authenticated = false;
let cancelled = null;

function send(message) {
  process.stdout.write(JSON.stringify({ jsonrpc: '2.0', ...message }) + '\n');
}
function request(method, params) {
  const id = nextId++;
  send({ id, method, params });
  return new Promise((resolve, reject) => waiting.set(id, { resolve, reject }));
}
function update(sessionId, update) {
  send({ method: 'session/update', params: { sessionId, update } });
}
function promptsSoFar() {
  if (!existsSync(logFile)) return 0;
  return readFileSync(logFile, 'utf8')
    .split('\n')
    .filter((line) => line && JSON.parse(line).method === 'session/prompt').length;
}

async function runStep(sessionId, step, n) {
  const call = `call-${n}`;
  if (step.message !== undefined) {
    update(sessionId, { sessionUpdate: 'agent_message_chunk', content: { type: 'text', text: step.message } });
  } else if (step.thought !== undefined) {
    update(sessionId, { sessionUpdate: 'agent_thought_chunk', content: { type: 'text', text: step.thought } });
  } else if (step.plan) {
    update(sessionId, {
      sessionUpdate: 'plan',
      entries: step.plan.map(([content, status]) => ({ content, priority: 'medium', status })),
    });
  } else if (step.usage) {
    update(sessionId, { sessionUpdate: 'usage_update', used: step.usage[0], size: step.usage[1] });
  } else if (step.read) {
    const path = join(cwd, step.read);
    update(sessionId, { sessionUpdate: 'tool_call', toolCallId: call, title: `Read ${step.read}`, kind: 'read', status: 'in_progress', locations: [{ path }] });
    const { content } = await request('fs/read_text_file', { sessionId, path });
    update(sessionId, { sessionUpdate: 'tool_call_update', toolCallId: call, status: 'completed' });
    update(sessionId, { sessionUpdate: 'agent_message_chunk', content: { type: 'text', text: `read ${step.read}: ${content}` } });
  } else if (step.write) {
    const path = join(cwd, step.write);
    update(sessionId, { sessionUpdate: 'tool_call', toolCallId: call, title: `Write ${step.write}`, kind: 'edit', status: 'pending' });
    await request('fs/write_text_file', { sessionId, path, content: step.text });
    update(sessionId, { sessionUpdate: 'tool_call_update', toolCallId: call, status: 'completed', content: [{ type: 'diff', path, oldText: null, newText: step.text }] });
  } else if (step.diskWrite) {
    const path = join(cwd, step.diskWrite);
    const old = existsSync(path) ? readFileSync(path, 'utf8') : null;
    update(sessionId, { sessionUpdate: 'tool_call', toolCallId: call, title: `Edit ${step.diskWrite}`, kind: 'edit', status: 'in_progress' });
    writeFileSync(path, step.text);
    update(sessionId, { sessionUpdate: 'tool_call_update', toolCallId: call, status: 'completed', content: [{ type: 'diff', path, oldText: old, newText: step.text }] });
  } else if (step.terminal) {
    const [command, ...args] = step.terminal;
    update(sessionId, { sessionUpdate: 'tool_call', toolCallId: call, title: `Run ${step.terminal.join(' ')}`, kind: 'execute', status: 'pending', rawInput: { command: step.terminal } });
    const { terminalId } = await request('terminal/create', { sessionId, command, args, cwd });
    update(sessionId, { sessionUpdate: 'tool_call_update', toolCallId: call, status: 'in_progress', content: [{ type: 'terminal', terminalId }] });
    const exit = await request('terminal/wait_for_exit', { sessionId, terminalId });
    const { output } = await request('terminal/output', { sessionId, terminalId });
    await request('terminal/release', { sessionId, terminalId });
    update(sessionId, { sessionUpdate: 'tool_call_update', toolCallId: call, status: exit.exitCode === 0 ? 'completed' : 'failed' });
    update(sessionId, { sessionUpdate: 'agent_message_chunk', content: { type: 'text', text: `exit ${exit.exitCode}: ${output}` } });
  } else if (step.permission) {
    const content = step.diff
      ? [{ type: 'diff', path: join(cwd, step.diff.path), oldText: step.diff.old, newText: step.diff.new }]
      : [];
    update(sessionId, { sessionUpdate: 'tool_call', toolCallId: call, title: step.permission, kind: step.diff ? 'edit' : 'other', status: 'pending', content });
    const { outcome } = await request('session/request_permission', {
      sessionId,
      toolCall: { toolCallId: call, title: step.permission },
      options: [
        { optionId: 'yes', name: 'Allow', kind: 'allow_once' },
        { optionId: 'always', name: 'Always allow', kind: 'allow_always' },
        { optionId: 'no', name: 'Reject', kind: 'reject_once' },
      ],
    });
    const said = outcome.outcome === 'selected' ? outcome.optionId : 'cancelled';
    update(sessionId, { sessionUpdate: 'tool_call_update', toolCallId: call, status: said === 'no' ? 'failed' : 'completed' });
    update(sessionId, { sessionUpdate: 'agent_message_chunk', content: { type: 'text', text: `permission: ${said}` } });
  } else if (step.crash !== undefined) {
    process.stderr.write('scripted agent: crashing on purpose\n');
    process.exit(step.crash);
  } else if (step.hang) {
    await new Promise((resolve) => (cancelled = resolve));
    return 'cancelled';
  }
  return null;
}

async function handle(message) {
  const { id, method, params } = message;
  if (method === 'initialize') {
    if (scenario.exitDuringInitialize !== undefined) {
      process.stderr.write('scripted agent: giving up during initialize\n');
      process.exit(scenario.exitDuringInitialize);
    }
    const authMethods = scenario.authRequired
      ? [
          { id: 'browser', name: 'Log in with a browser' },
          { id: 'key', name: `Use ${scenario.authRequired}`, type: 'env_var', vars: [{ name: scenario.authRequired }] },
        ]
      : [];
    send({
      id,
      result: {
        protocolVersion: scenario.protocolVersion ?? 1,
        agentCapabilities: { loadSession: !!scenario.loadSession },
        authMethods,
        agentInfo: { name: 'scripted-agent', title: 'Scripted agent', version: '1.0.0' },
      },
    });
  } else if (method === 'authenticate') {
    authenticated = params.methodId === 'key' && !!process.env[scenario.authRequired];
    send({ id, result: {} });
  } else if (method === 'session/new') {
    if (scenario.authRequired && !authenticated) {
      send({ id, error: { code: -32000, message: 'Authentication required' } });
      return;
    }
    cwd = params.cwd;
    send({ id, result: { sessionId: `session-${process.pid}` } });
  } else if (method === 'session/load') {
    cwd = params.cwd;
    update(params.sessionId, { sessionUpdate: 'user_message_chunk', content: { type: 'text', text: '(replayed)' } });
    update(params.sessionId, { sessionUpdate: 'agent_message_chunk', content: { type: 'text', text: '(replayed answer)' } });
    send({ id, result: {} });
  } else if (method === 'session/prompt') {
    const turn = (scenario.turns ?? [])[promptsSoFar() - 1] ?? [{ message: 'nothing scripted' }];
    let stopReason = 'end_turn';
    let n = 0;
    for (const step of turn) {
      if ((await runStep(params.sessionId, step, `${promptsSoFar()}-${n++}`)) === 'cancelled') {
        stopReason = 'cancelled';
        break;
      }
    }
    send({ id, result: { stopReason } });
  } else if (method === 'session/cancel') {
    if (cancelled) cancelled();
  } else if (id !== undefined && method) {
    send({ id, error: { code: -32601, message: `no ${method}` } });
  }
}

const lines = createInterface({ input: process.stdin });
lines.on('line', (line) => {
  if (!line.trim()) return;
  const message = JSON.parse(line);
  if (message.method) {
    appendFileSync(logFile, JSON.stringify(message) + '\n');
    handle(message).catch((error) => {
      process.stderr.write(`scripted agent: ${error.stack}\n`);
      process.exit(70);
    });
  } else if (waiting.has(message.id)) {
    const { resolve, reject } = waiting.get(message.id);
    waiting.delete(message.id);
    if (message.error) reject(new Error(JSON.stringify(message.error)));
    else resolve(message.result);
  }
});
lines.on('close', () => process.exit(0));
