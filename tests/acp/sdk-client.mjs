// A real ACP client for tests/it/acp_agent.rs: the official TypeScript SDK
// (@agentclientprotocol/sdk, v1), whose client side checks every request and notification
// `agentls acp` sends against the protocol's schema. It plays one scenario against
// `$AGENTLS_BIN acp` in `$WORKSPACE` and prints what it saw as one JSON object on stdout;
// the Rust test judges it. Any message the SDK finds invalid lands in `errors`.
//
// Usage: node sdk-client.mjs SCENARIO   (env: AGENTLS_BIN, ACP_SDK, WORKSPACE, AGENTLS_HOME)

import { spawn } from "node:child_process";
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { Readable, Writable } from "node:stream";

const acp = await import(process.env.ACP_SDK);
const { methods } = acp;
const workspace = process.env.WORKSPACE;
const scenario = process.argv[2];

const errors = [];
const originalError = console.error;
console.error = (...args) => {
  errors.push(args.map((a) => (typeof a === "string" ? a : JSON.stringify(a))).join(" "));
  originalError(...args);
};

/// Starts `agentls acp` and connects the SDK's client to it. `files` is what the editor
/// holds (path → text, its unsaved buffers); reads are served from it, then from disk.
function connect({ fs = { readTextFile: true, writeTextFile: true }, files = {}, permission, args = [] } = {}) {
  const child = spawn(process.env.AGENTLS_BIN, ["acp", ...args], {
    cwd: workspace,
    stdio: ["pipe", "pipe", "inherit"],
  });
  const seen = { updates: [], writes: [], reads: [], permissions: [] };
  const app = acp
    .client({ name: "agentls-test" })
    .onNotification(methods.client.session.update, ({ params }) => {
      seen.updates.push(params);
    })
    .onRequest(methods.client.fs.readTextFile, ({ params }) => {
      seen.reads.push(params.path);
      if (params.path in files) return { content: files[params.path] };
      return { content: readFileSync(params.path, "utf8") };
    })
    .onRequest(methods.client.fs.writeTextFile, ({ params }) => {
      seen.writes.push({ path: params.path, content: params.content });
      files[params.path] = params.content;
      return {};
    })
    .onRequest(methods.client.session.requestPermission, async ({ params }) => {
      seen.permissions.push(params);
      return permission ? permission(params, seen.permissions.length) : { outcome: { outcome: "cancelled" } };
    });
  const stream = acp.ndJsonStream(Writable.toWeb(child.stdin), Readable.toWeb(child.stdout));
  const exited = new Promise((resolve) => child.on("exit", (code, signal) => resolve({ code, signal })));
  const run = (op) =>
    app.connectWith(stream, async (ctx) => {
      const init = await ctx.request(methods.agent.initialize, {
        protocolVersion: 1,
        clientCapabilities: { fs },
        clientInfo: { name: "agentls-test", version: "1" },
      });
      return op(ctx, init);
    });
  return { child, seen, files, run, exited };
}

const at = (rel) => join(workspace, rel);
const text = (rel) => readFileSync(at(rel), "utf8");
const prompt = (ctx, sessionId, blocks) =>
  ctx.request(methods.agent.session.prompt, {
    sessionId,
    prompt: typeof blocks === "string" ? [{ type: "text", text: blocks }] : blocks,
  });
const untilUpdate = async (seen, test) => {
  for (;;) {
    const found = seen.updates.find((n) => test(n.update));
    if (found) return found;
    await new Promise((r) => setTimeout(r, 20));
  }
};

const scenarios = {
  // A turn that reads an unsaved buffer, patches one file and seds another; then a second
  // turn after the editor kept one and reverted the other; an unknown method and a
  // malformed line on the way; then session/list.
  async edits() {
    const client = connect({ files: { [at("notes.txt")]: "unsaved notes\n" } });
    const result = await client.run(async (ctx, init) => {
      const session = await ctx.request(methods.agent.session.new, { cwd: workspace, mcpServers: [] });
      const first = await prompt(ctx, session.sessionId, [
        { type: "text", text: "update a and c" },
        { type: "resource_link", uri: `file://${at("notes.txt")}`, name: "notes.txt" },
      ]);
      const disk = { a: text("a.txt"), c: text("c.txt") };
      // The user keeps a.txt and reverts c.txt in the editor.
      client.files[at("c.txt")] = disk.c;
      let unknown;
      try {
        await ctx.request("session/dance", { sessionId: session.sessionId });
      } catch (error) {
        unknown = { code: error.code, message: error.message };
      }
      client.child.stdin.write("{this is not json\n");
      const second = await prompt(ctx, session.sessionId, "now tidy up");
      const list = await ctx.request(methods.agent.session.list, { cwd: workspace });
      return { init, session, first, second, disk, unknown, list };
    });
    client.child.stdin.end();
    return { ...result, ...client.seen, exit: await client.exited };
  },

  // One prompt in a new session.
  async once() {
    const client = connect();
    const result = await client.run(async (ctx) => {
      const session = await ctx.request(methods.agent.session.new, { cwd: workspace, mcpServers: [] });
      const stop = await prompt(ctx, session.sessionId, process.argv[3]);
      return { session, stop };
    });
    client.child.stdin.end();
    return { ...result, ...client.seen, exit: await client.exited };
  },

  // session/load of the newest session, from a new agentls; the editor holds the files
  // given as the scenario's argument (JSON, absolute path → text).
  async load() {
    const client = connect({ files: JSON.parse(process.argv[3] ?? "{}") });
    const result = await client.run(async (ctx) => {
      const list = await ctx.request(methods.agent.session.list, { cwd: workspace });
      const sessionId = list.sessions[0].sessionId;
      const loaded = await ctx.request(methods.agent.session.load, { sessionId, cwd: workspace, mcpServers: [] });
      const replayed = client.seen.updates.length;
      const next = await prompt(ctx, sessionId, "and once more");
      let missing;
      try {
        await ctx.request(methods.agent.session.load, { sessionId: "t-nope", cwd: workspace, mcpServers: [] });
      } catch (error) {
        missing = { code: error.code, message: error.message };
      }
      return { list, loaded, replayed, next, missing };
    });
    client.child.stdin.end();
    return { ...result, ...client.seen, exit: await client.exited };
  },

  // Patches under approval_policy = "untrusted": the first allowed, the second rejected;
  // in a second turn the question is cancelled, which cancels the turn.
  async permissions() {
    const answers = ["allow_once", "reject_once"];
    const client = connect({
      permission: (_params, n) =>
        n <= answers.length ? { outcome: { outcome: "selected", optionId: answers[n - 1] } } : { outcome: { outcome: "cancelled" } },
    });
    const result = await client.run(async (ctx) => {
      const session = await ctx.request(methods.agent.session.new, { cwd: workspace, mcpServers: [] });
      const stop = await prompt(ctx, session.sessionId, "two edits");
      const cancelled = await prompt(ctx, session.sessionId, "one more edit");
      return { stop, cancelled };
    });
    client.child.stdin.end();
    return { ...result, ...client.seen, disk: { a: text("a.txt"), b: text("b.txt") }, exit: await client.exited };
  },

  // A long command, cancelled once it runs: the prompt must answer `cancelled` within 2 s.
  async cancel() {
    const client = connect();
    const result = await client.run(async (ctx) => {
      const session = await ctx.request(methods.agent.session.new, { cwd: workspace, mcpServers: [] });
      const turn = prompt(ctx, session.sessionId, "wait a while");
      await untilUpdate(client.seen, (u) => u.sessionUpdate === "tool_call" && u.kind === "execute");
      const t0 = Date.now();
      await ctx.notify(methods.agent.session.cancel, { sessionId: session.sessionId });
      const stop = await turn;
      return { stop, cancelMs: Date.now() - t0 };
    });
    client.child.stdin.end();
    return { ...result, ...client.seen, exit: await client.exited };
  },

  // A client without fs/*: the turn's change is written to disk (acp_write = "disk") or
  // not at all (`-c acp_write="none"`, passed as the scenario's argument).
  async nofs() {
    const client = connect({ fs: { readTextFile: false, writeTextFile: false }, args: process.argv.slice(3) });
    const result = await client.run(async (ctx) => {
      const session = await ctx.request(methods.agent.session.new, { cwd: workspace, mcpServers: [] });
      const stop = await prompt(ctx, session.sessionId, "edit a");
      return { stop };
    });
    client.child.stdin.end();
    return { ...result, ...client.seen, disk: { a: text("a.txt") }, exit: await client.exited };
  },

  // The model opens a file the prompt does not attach, which the editor holds unsaved.
  async unsaved() {
    const client = connect({ files: { [at("notes.txt")]: "unsaved notes\n" } });
    const result = await client.run(async (ctx) => {
      const session = await ctx.request(methods.agent.session.new, { cwd: workspace, mcpServers: [] });
      const stop = await prompt(ctx, session.sessionId, "fix the notes");
      return { stop };
    });
    client.child.stdin.end();
    return { ...result, ...client.seen, disk: { notes: text("notes.txt") }, exit: await client.exited };
  },

  // A patch that modifies one file, creates one and deletes one: ACP writes only text.
  async moves() {
    const client = connect();
    const result = await client.run(async (ctx) => {
      const session = await ctx.request(methods.agent.session.new, { cwd: workspace, mcpServers: [] });
      const stop = await prompt(ctx, session.sessionId, "replace old.txt with new.txt");
      return { stop };
    });
    client.child.stdin.end();
    const disk = {
      a: text("a.txt"),
      new: existsSync(at("new.txt")) ? text("new.txt") : null,
      old: existsSync(at("old.txt")) ? text("old.txt") : null,
    };
    return { ...result, ...client.seen, disk, exit: await client.exited };
  },

  // The client's own MCP server (session/new's mcpServers) joins the configured ones.
  async mcp() {
    const client = connect();
    const result = await client.run(async (ctx) => {
      const server = { name: "everything", command: "node", args: [process.argv[3]], env: [] };
      const session = await ctx.request(methods.agent.session.new, { cwd: workspace, mcpServers: [server] });
      const stop = await prompt(ctx, session.sessionId, "add 2 and 3");
      return { stop };
    });
    client.child.stdin.end();
    return { ...result, ...client.seen, exit: await client.exited };
  },

  // A review of the uncommitted change with calc.py's unsaved text attached, then a
  // Code turn that applies the finding's fix (its patch reads calc.py from the editor).
  async review() {
    const client = connect({ files: { [at("calc.py")]: process.argv[3] } });
    const result = await client.run(async (ctx) => {
      const session = await ctx.request(methods.agent.session.new, { cwd: workspace, mcpServers: [] });
      await ctx.request(methods.agent.session.setMode, { sessionId: session.sessionId, modeId: "review" });
      const reviewed = await prompt(ctx, session.sessionId, [
        { type: "text", text: "look at the arithmetic" },
        { type: "resource_link", uri: `file://${at("calc.py")}`, name: "calc.py" },
      ]);
      const writesAfterReview = client.seen.writes.length;
      await ctx.request(methods.agent.session.setMode, { sessionId: session.sessionId, modeId: "code" });
      const fixed = await prompt(ctx, session.sessionId, "apply the fix");
      return { session, reviewed, writesAfterReview, fixed };
    });
    client.child.stdin.end();
    return { ...result, ...client.seen, exit: await client.exited };
  },

  // The client disappears while a command runs: agentls must exit and leave nothing behind.
  async vanish() {
    const client = connect();
    await Promise.race([
      client.run(async (ctx) => {
        const session = await ctx.request(methods.agent.session.new, { cwd: workspace, mcpServers: [] });
        prompt(ctx, session.sessionId, "wait a while").catch(() => {});
        await untilUpdate(client.seen, (u) => u.sessionUpdate === "tool_call" && u.kind === "execute");
        await new Promise((r) => setTimeout(r, 300));
        client.child.stdin.destroy();
        client.child.stdout.destroy();
      }),
    ]);
    const t0 = Date.now();
    const exit = await client.exited;
    return { exit, exitMs: Date.now() - t0, pid: client.child.pid };
  },
};

const output = await scenarios[scenario]();
console.error = originalError;
process.stdout.write(JSON.stringify({ ...output, errors }) + "\n");
process.exit(0);
