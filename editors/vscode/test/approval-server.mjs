#!/usr/bin/env node
// A stand-in for agentls that asks for an approval, for the e2e test of the extension's
// `agent/requestApproval` prompt, without a model and a policy to make the real one ask.
// It speaks just enough LSP to be started, answers `agent/startTask` with a task id, then
// asks to run a command and appends each decision it gets, as a JSON line, to
// $APPROVAL_LOG. Like agentls, it asks only a client that announced
// `experimental.agent.approvals` in `initialize`; any other gets nothing to answer.

import fs from 'node:fs';

const log = process.env.APPROVAL_LOG;
if (!log) {
  process.stderr.write('approval-server: set APPROVAL_LOG\n');
  process.exit(2);
}
const APPROVAL_REQUEST = {
  taskId: 'task-1',
  callId: 'call-1',
  kind: 'command',
  command: ['cargo', 'test', '--workspace'],
  cwd: '/workspace',
  reason: 'run the tests against the proposed change',
};

let buffer = Buffer.alloc(0);
let nextId = 1000;

function send(message) {
  const body = Buffer.from(JSON.stringify({ jsonrpc: '2.0', ...message }));
  process.stdout.write(`Content-Length: ${body.length}\r\n\r\n`);
  process.stdout.write(body);
}

let mayAsk = false;

const handlers = {
  initialize: ({ capabilities }) => {
    mayAsk = capabilities?.experimental?.agent?.approvals === true;
    return { capabilities: { experimental: { agent: { version: 1 } } }, serverInfo: { name: 'approval-server' } };
  },
  shutdown: () => null,
  'agent/listTasks': () => ({ tasks: [] }),
  'agent/getProposal': ({ taskId }) => ({ taskId, files: [] }),
  'agent/getTask': ({ taskId }) => ({ taskId, prompt: 'run the tests', mode: 'code', status: 'running', createdAt: Date.now(), events: [] }),
  'agent/startTask': () => {
    if (mayAsk) {
      setImmediate(() => send({ id: nextId++, method: 'agent/requestApproval', params: APPROVAL_REQUEST }));
    } else {
      process.stderr.write('approval-server: the client did not announce experimental.agent.approvals; not asking\n');
    }
    return { taskId: APPROVAL_REQUEST.taskId };
  },
};

function handle(message) {
  if (message.method === 'exit') {
    process.exit(0);
  }
  if (message.method === undefined) {
    // The editor's answer to our approval request.
    fs.appendFileSync(log, `${JSON.stringify(message.result ?? { error: message.error })}\n`);
    return;
  }
  if (message.id === undefined) {
    return; // a notification: nothing to do
  }
  const handler = handlers[message.method];
  if (handler) {
    send({ id: message.id, result: handler(message.params ?? {}) });
  } else {
    send({ id: message.id, error: { code: -32601, message: `approval-server does not handle ${message.method}` } });
  }
}

process.stdin.on('data', (chunk) => {
  buffer = Buffer.concat([buffer, chunk]);
  for (;;) {
    const headerEnd = buffer.indexOf('\r\n\r\n');
    if (headerEnd < 0) {
      return;
    }
    const length = Number(/Content-Length: (\d+)/i.exec(buffer.subarray(0, headerEnd).toString())?.[1]);
    if (buffer.length < headerEnd + 4 + length) {
      return;
    }
    handle(JSON.parse(buffer.subarray(headerEnd + 4, headerEnd + 4 + length).toString()));
    buffer = buffer.subarray(headerEnd + 4 + length);
  }
});
process.stdin.on('end', () => process.exit(0));
