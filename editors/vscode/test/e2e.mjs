// End-to-end test of the extension in a real VS Code (code-server in headless chromium):
// a scripted model proposes two hunks in one file; the user runs "Agent: New Task" from the
// command palette, sees the hunks in the Tasks view, the editor's decorations and a diff
// editor, types above the hunks (they follow), accepts one hunk and rejects the other by
// clicking their CodeLenses, undoes the accept with its Undo CodeLens and accepts again,
// follows up on the task and rejects the new hunk with a reason, follows up again and
// accepts the next hunk with their own text ("Edit & Accept", edit, save), saves, and the
// file on disk must hold exactly the user's typing and the accepted changes. Two more
// tasks then change one line: the later one's CodeLens names the conflict; accepting the
// earlier makes it stale, and its hover compares the user's text with the agent's.
// Then the task history: "Agent: Restart Server" brings every task back with its hunks;
// the user forks one from the Tasks view's context menu (the fork is listed), deletes the
// fork (gone, its log too), follows up on a task the new server loaded, and after the
// server is killed in the middle of a task (the language client starts it again) finds
// that task interrupted with its hunk and resumes it.
// The agentls.model setting must have reached the model requests (settings →
// initializationOptions).
// A second session answers an `agent/requestApproval` in the modal dialog, against a
// stand-in server (test/approval-server.mjs).
// A third runs a task with an ACP agent (tests/acp/scripted-agent.mjs, configured as
// [agents.scripted]): "Agent: New Task" offers the agents of agent/listAgents in a quick
// pick, the agent's edit — made on disk in its own view — arrives as a hunk, and
// accepting it changes the buffer while the file on disk stays as it was.
// A fourth runs "Agent: New Task with Attempts…" with two attempts (one whose test passes,
// one whose test fails), compares them in the quick pick — each row's size, summary and
// last command, a diff editor previewing the row under the cursor — chooses the green one
// and accepts its hunk.
// A fifth reviews a git repository's uncommitted work ("Agent: Review Changes", the
// uncommitted target) with an unsaved edit open: the model must get that edit in the diff;
// its two findings show in the Problems view at their lines with their titles; "Apply fix"
// from the Quick Fix menu (Ctrl+.) yields a hunk whose Accept CodeLens changes the buffer
// to exactly the fixed text while calc.py on disk stays as it was until saved (and takes
// the fixed finding away); "Dismiss finding" takes the other one out of the Problems view.
//
// Usage: node test/e2e.mjs   (run by scripts/test-vscode, which sets the inputs below).
// E2E_SESSIONS=attempts,approval runs only those sessions (while working on one).
// On failure: ARTIFACTS_DIR/<session>-failure.png, plus each session's logs.
// Env: AGENTLS_BIN, SCRIPTED_MODEL_BIN, AGENTLS_VSIX, CODE_SERVER_DIR, ARTIFACTS_DIR,
//      REVIEW_SCREENSHOT (where to save the picture of the review).

import { spawn, execFileSync } from 'node:child_process';
import { once } from 'node:events';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { createRequire } from 'node:module';

const env = (name) => {
  const value = process.env[name];
  if (!value) {
    throw new Error(`e2e: set ${name} (scripts/test-vscode sets them all)`);
  }
  return value;
};
const agentls = env('AGENTLS_BIN');
const scriptedModel = env('SCRIPTED_MODEL_BIN');
const vsix = env('AGENTLS_VSIX');
const codeServerDir = env('CODE_SERVER_DIR');
const artifacts = env('ARTIFACTS_DIR');
const reviewShot = env('REVIEW_SCREENSHOT');
const { chromium } = createRequire(path.join(codeServerDir, 'node_modules', 'x.js'))('playwright-core');
const codeServer = path.join(codeServerDir, 'node_modules', '.bin', 'code-server');
const approvalServer = path.join(path.dirname(new URL(import.meta.url).pathname), 'approval-server.mjs');

const TEN_LINES = 'one\ntwo\nthree\nfour\nfive\nsix\nseven\neight\nnine\nten\n';
// The user types a line above the hunks, accepts hunk 1 ("two") and rejects hunk 2; of a
// follow-up's "SEVEN" they accept their own "Seven!".
const EXPECTED = `zero\n${TEN_LINES.replace('two', 'TWO').replace('seven', 'Seven!')}`;
const PATCH = '*** Begin Patch\n*** Update File: notes.txt\n@@\n one\n-two\n+TWO\n three\n@@\n seven\n-eight\n+EIGHT\n nine\n*** End Patch\n';
const FOLLOW_UP_PATCH = '*** Begin Patch\n*** Update File: notes.txt\n@@\n four\n-five\n+FIVE\n six\n*** End Patch\n';
const SECOND_FOLLOW_UP_PATCH = '*** Begin Patch\n*** Update File: notes.txt\n@@\n six\n-seven\n+SEVEN\n eight\n*** End Patch\n';
// Two more tasks, both changing "nine": the second one's hunk is a conflict.
const nine = (to) => `*** Begin Patch\n*** Update File: notes.txt\n@@\n eight\n-nine\n+${to}\n ten\n*** End Patch\n`;
const TEN_PATCH = '*** Begin Patch\n*** Update File: notes.txt\n@@\n NINE\n-ten\n+TEN\n*** End Patch\n';
const ELEVEN_PATCH = '*** Begin Patch\n*** Update File: notes.txt\n@@\n TEN\n+eleven\n*** End Patch\n';
const STEP_TIMEOUT = 60_000;
const MODEL_SETTING = 'model-from-vscode-settings';

const children = [];
let browser;

function start(command, args, options) {
  // Its own process group, so that stopping it also stops what it started (the extension
  // host, agentls).
  const child = spawn(command, args, { stdio: ['ignore', 'pipe', 'pipe'], detached: true, ...options });
  children.push(child);
  return child;
}

async function freePort() {
  const server = net.createServer().listen(0, '127.0.0.1');
  await once(server, 'listening');
  const { port } = server.address();
  server.close();
  return port;
}

/** Starts the scripted model server and returns its base URL (its first stdout line). */
async function startModel(dir) {
  const script = path.join(dir, 'script.json');
  fs.writeFileSync(script, JSON.stringify([
    { toolCall: { name: 'apply_patch', arguments: { input: PATCH } } },
    { text: 'Capitalised two and eight.' },
    { toolCall: { name: 'apply_patch', arguments: { input: FOLLOW_UP_PATCH } } },
    { text: 'Capitalised five.' },
    { toolCall: { name: 'apply_patch', arguments: { input: SECOND_FOLLOW_UP_PATCH } } },
    { text: 'Capitalised seven.' },
    { toolCall: { name: 'apply_patch', arguments: { input: nine('NINE') } } },
    { text: 'Shouted nine.' },
    { toolCall: { name: 'apply_patch', arguments: { input: nine('Nine!') } } },
    { text: 'Exclaimed nine.' },
    // The follow-up on "exclaim nine" after the restart.
    { toolCall: { name: 'apply_patch', arguments: { input: TEN_PATCH } } },
    { text: 'Shouted ten.' },
    // "count to eleven": a patch, then a turn that stalls until the server is killed.
    { toolCall: { name: 'apply_patch', arguments: { input: ELEVEN_PATCH } } },
    { stallMs: 600_000, then: { text: 'Never finished: the server is killed while this streams.' } },
    { text: 'Resumed: eleven is there.' },
  ]));
  return startScriptedModel('review', script, requestLog(dir));
}

/**
 * Starts tests/support's scripted model server on the replies in `script` (logging its
 * requests to `log` when given) and returns its base URL (its first stdout line).
 */
async function startScriptedModel(name, script, log) {
  const model = start(scriptedModel, [script], { env: log ? { ...process.env, SCRIPTED_MODEL_LOG: log } : process.env });
  model.stderr.pipe(fs.createWriteStream(path.join(artifacts, `${name}-scripted-model.log`)));
  let out = '';
  for await (const chunk of model.stdout) {
    out += chunk;
    const match = out.match(/listening on (\S+)/);
    if (match) {
      return match[1];
    }
  }
  throw new Error(`the scripted model server exited before listening: ${out}`);
}

const requestLog = (dir) => path.join(dir, 'model-requests.jsonl');
let modelDir;
/** The model requests so far (the scripted server logs them every 100 ms). */
function modelRequests(log = requestLog(modelDir)) {
  if (!fs.existsSync(log)) {
    return [];
  }
  return fs.readFileSync(log, 'utf8').split('\n').flatMap((line) => {
    try {
      return [JSON.parse(line)];
    } catch {
      return []; // the last line may still be half written
    }
  });
}

async function waitFor(what, check, timeout = STEP_TIMEOUT) {
  const deadline = Date.now() + timeout;
  for (;;) {
    const value = await check();
    if (value) {
      return value;
    }
    if (Date.now() > deadline) {
      throw new Error(`timed out waiting for ${what}`);
    }
    await new Promise((r) => setTimeout(r, 200));
  }
}

/**
 * One VS Code session: a fresh workspace, user settings and $AGENTLS_HOME, the .vsix
 * installed, code-server and chromium started; `run(page)` drives it. On failure a
 * screenshot and the logs are kept under ARTIFACTS_DIR/<name>-*.
 */
async function session(name, { workspaceFiles, setup, settings, agentlsConfig = '', serverEnv = {}, run }) {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), `agentls-vscode-${name}-`));
  const workspace = path.join(dir, 'workspace');
  const home = path.join(dir, 'agentls-home');
  const userData = path.join(dir, 'user-data');
  const extensions = path.join(dir, 'extensions');
  for (const d of [workspace, home, path.join(userData, 'User'), extensions]) {
    fs.mkdirSync(d, { recursive: true });
  }
  for (const [file, text] of Object.entries(workspaceFiles)) {
    fs.writeFileSync(path.join(workspace, file), text);
  }
  setup?.(workspace);
  fs.writeFileSync(path.join(home, 'config.toml'), agentlsConfig);
  fs.writeFileSync(path.join(userData, 'User', 'settings.json'), JSON.stringify({
    'workbench.startupEditor': 'none',
    'workbench.tips.enabled': false,
    'security.workspace.trust.enabled': false,
    'extensions.autoCheckUpdates': false,
    'telemetry.telemetryLevel': 'off',
    // As in desktop VS Code: in the browser it defaults to saving after a second, and an
    // unsaved buffer (what the server must see, what accepting a hunk changes) would not
    // stay unsaved.
    'files.autoSave': 'off',
    ...settings,
  }));

  const env = { ...process.env, AGENTLS_HOME: home, XDG_CONFIG_HOME: path.join(dir, 'xdg'), RUST_LOG: 'info', ...serverEnv };
  execFileSync(codeServer, ['--user-data-dir', userData, '--extensions-dir', extensions, '--install-extension', vsix], {
    env,
    stdio: ['ignore', 'ignore', 'inherit'],
  });
  const port = await freePort();
  const server = start(codeServer, [
    '--bind-addr', `127.0.0.1:${port}`, '--auth', 'none', '--disable-telemetry', '--disable-update-check',
    '--disable-workspace-trust', '--user-data-dir', userData, '--extensions-dir', extensions, workspace,
  ], { env });
  server.stdout.pipe(fs.createWriteStream(path.join(artifacts, `${name}-code-server.log`)));
  server.stderr.pipe(fs.createWriteStream(path.join(artifacts, `${name}-code-server.err.log`)));
  await waitFor('code-server to listen', () => fetch(`http://127.0.0.1:${port}/healthz`).then((r) => r.ok, () => false));

  browser ??= await chromium.launch({
    executablePath: '/usr/bin/chromium',
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
      '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  });
  const page = await browser.newPage({ viewport: { width: 1400, height: 800 } });
  page.setDefaultTimeout(STEP_TIMEOUT);
  try {
    await page.goto(`http://127.0.0.1:${port}/?folder=${encodeURIComponent(workspace)}`);
    await page.waitForSelector('.monaco-workbench');
    await run(page, workspace, home);
    console.log(`e2e: ${name} passed`);
  } catch (error) {
    const shot = path.join(artifacts, `${name}-failure.png`);
    await page.screenshot({ path: shot }).catch(() => undefined);
    console.error(`e2e: ${name} failed; screenshot at ${shot}, logs in ${artifacts}`);
    throw error;
  } finally {
    copyServerLogs(userData, name);
    await page.close();
    stop(server);
  }
}

async function reviewSession() {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'agentls-vscode-model-'));
  modelDir = dir;
  const baseUrl = await startModel(dir);
  await session('review', {
    workspaceFiles: { 'notes.txt': TEN_LINES },
    agentlsConfig: [
      'model = "model-from-config-toml"',
      'model_provider = "scripted"',
      '[model_providers.scripted]',
      `base_url = "${baseUrl}"`,
      'wire_api = "chat"',
      '',
    ].join('\n'),
    settings: {
      'agentls.serverPath': agentls,
      // Reaches the server as initializationOptions and beats config.toml's model.
      'agentls.model': MODEL_SETTING,
    },
    run: review,
  });
  const models = fs.readFileSync(requestLog(dir), 'utf8').trim().split('\n').map((line) => JSON.parse(line).model);
  if (models.length === 0 || models.some((m) => m !== MODEL_SETTING)) {
    throw new Error(`the model requests should name the agentls.model setting ${MODEL_SETTING}, got ${JSON.stringify(models)}`);
  }
}

/** `agent/requestApproval`, answered in the modal dialog (against a stand-in server). */
async function approvalSession() {
  const decisions = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'agentls-vscode-approvals-')), 'decisions.jsonl');
  await session('approval', {
    workspaceFiles: { 'README.md': '# demo\n' },
    settings: { 'agentls.serverPath': approvalServer, 'agentls.openTaskPanel': false },
    serverEnv: { APPROVAL_LOG: decisions },
    run: async (page) => {
      await waitForServer(page);
      await runCommand(page, 'Agent: New Task', 'run the tests');
      const dialog = page.locator('.monaco-dialog-box');
      await dialog.filter({ hasText: 'The agent wants to run a command' }).waitFor();
      await dialog.filter({ hasText: '$ cargo test --workspace' }).waitFor();
      await dialog.filter({ hasText: 'run the tests against the proposed change' }).waitFor();
      await dialog.getByRole('button', { name: 'Allow for Task' }).click();
      await waitFor('the decision to reach the server', () => fs.existsSync(decisions));
      const answer = JSON.parse(fs.readFileSync(decisions, 'utf8').trim());
      if (answer.decision !== 'allowForTask') {
        throw new Error(`the server got ${JSON.stringify(answer)}, expected {"decision":"allowForTask"}`);
      }
    },
  });
}

/** A task with an ACP agent, picked in "Agent: New Task"'s quick pick. */
async function agentSession() {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'agentls-vscode-acp-'));
  const scripts = path.resolve(path.dirname(new URL(import.meta.url).pathname), '../../../tests/acp');
  const scenario = path.join(dir, 'scenario.json');
  fs.writeFileSync(scenario, JSON.stringify({
    log: path.join(dir, 'received.jsonl'),
    turns: [[{ diskWrite: 'notes.txt', text: 'one\nTWO\nthree\n' }, { message: 'Shouted two.' }]],
  }));
  await session('acp', {
    workspaceFiles: { 'notes.txt': 'one\ntwo\nthree\n' },
    agentlsConfig: [
      '[agents.scripted]',
      'command = "node"',
      `args = ${JSON.stringify([path.join(scripts, 'scripted-agent.mjs'), scenario])}`,
      'description = "the scripted ACP agent"',
      `readable_roots = ${JSON.stringify([scripts, dir])}`,
      `writable_roots = ${JSON.stringify([dir])}`,
      '',
    ].join('\n'),
    settings: { 'agentls.serverPath': agentls, 'agentls.openTaskPanel': false },
    run: async (page, workspace) => {
      await waitForServer(page);
      await runCommand(page, 'Go to File', 'notes.txt', { pick: true });
      await page.waitForSelector('.monaco-editor .view-line:has-text("three")');
      await runCommand(page, 'Agent: New Task', 'shout two');
      await page.locator('.quick-input-widget', { hasText: 'Which agent runs the task?' }).waitFor();
      await page.locator('.quick-input-list .monaco-list-row', { hasText: 'the scripted ACP agent' }).waitFor();
      await page.locator('.quick-input-list .monaco-list-row', { hasText: 'built-in' }).waitFor();
      await answerInput(page, 'scripted');
      const lens = page.locator('.monaco-editor .codelens-decoration a', { hasText: /^Accept$/ });
      await waitFor('the agent’s hunk', async () => (await lens.count()) === 1);
      if (fs.readFileSync(path.join(workspace, 'notes.txt'), 'utf8') !== 'one\ntwo\nthree\n') {
        throw new Error('the agent wrote the user’s file before the hunk was accepted');
      }
      await lens.click();
      await waitFor('the accepted hunk in the editor', async () => (await page.locator('.monaco-editor .view-line', { hasText: /^TWO$/ }).count()) === 1);
      const received = fs.readFileSync(path.join(dir, 'received.jsonl'), 'utf8');
      if (!received.includes('"method":"session/prompt"') || !received.includes('shout two')) {
        throw new Error(`the agent did not get the prompt: ${received}`);
      }
      if (fs.readFileSync(path.join(workspace, 'notes.txt'), 'utf8') !== 'one\ntwo\nthree\n') {
        throw new Error('accepting changes the buffer, not the file on disk');
      }
    },
  });
}

/** One attempt's conversation: a patch making "two" read `line`, a test, an answer. */
const attemptConversation = (line, answer) => ({
  conversation: [
    { toolCall: { name: 'apply_patch', arguments: { input: `*** Begin Patch\n*** Update File: notes.txt\n@@\n one\n-two\n+${line}\n three\n*** End Patch\n` } } },
    { toolCall: { name: 'shell', arguments: { command: ['sh', '-c', 'grep -q TWO notes.txt'] } } },
    { text: answer },
  ],
});

/** Best-of-N: two attempts side by side, compared in the quick pick, the green one chosen. */
async function attemptsSession() {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'agentls-vscode-attempts-'));
  const script = path.join(dir, 'script.json');
  // Each attempt gets its own conversation, whichever asks first.
  fs.writeFileSync(script, JSON.stringify([attemptConversation('TWO', 'Shouted two.'), attemptConversation('Two', 'Titled two.')]));
  const baseUrl = await startScriptedModel('attempts', script);
  await session('attempts', {
    workspaceFiles: { 'notes.txt': 'one\ntwo\nthree\n' },
    agentlsConfig: `model = "m"\nmodel_provider = "scripted"\n[model_providers.scripted]\nbase_url = "${baseUrl}"\nwire_api = "chat"\n`,
    settings: { 'agentls.serverPath': agentls, 'agentls.openTaskPanel': false },
    run: attempts,
  });
}

async function attempts(page, workspace) {
  await waitForServer(page);
  await runCommand(page, 'Go to File', 'notes.txt', { pick: true });
  await page.waitForSelector('.monaco-editor .view-line:has-text("three")');

  await runCommand(page, 'Agent: New Task with Attempts…', 'shout two');
  await pickRow(page, '2 attempts');
  await pickRow(page, 'I choose');
  await page.locator('.pane-header', { hasText: 'Agent Tasks' }).click();
  const tree = page.locator('.pane-body .monaco-list-row');
  await tree.filter({ hasText: 'shout two' }).filter({ hasText: 'completed · 2 attempts' }).waitFor();
  // Nothing is proposed until an attempt is chosen.
  const lenses = page.locator('.monaco-editor .codelens-decoration a', { hasText: /^Accept$/ });
  if ((await lenses.count()) !== 0) {
    throw new Error('no hunk should be offered before an attempt is chosen');
  }

  // One row per attempt: status, size, last command (with its exit code when it failed), summary.
  await runCommand(page, 'Agent: Compare Attempts…');
  const rows = page.locator('.quick-input-list .monaco-list-row');
  const green = rows.filter({ hasText: 'Shouted two.' });
  const red = rows.filter({ hasText: 'Titled two.' });
  for (const row of [green, red]) {
    await row.filter({ hasText: /Attempt [12] · completed/ }).filter({ hasText: '+1 −1 · 1 file' }).filter({ hasText: 'grep -q TWO notes.txt' }).waitFor();
  }
  await red.filter({ hasText: '(exit 1)' }).waitFor();
  if ((await green.filter({ hasText: 'exit' }).count()) !== 0) {
    throw new Error(`the passing attempt's command shows no exit code: ${await green.textContent()}`);
  }

  // The diff editor previews the attempt under the cursor.
  const proposed = (line) => page.locator('.monaco-diff-editor .modified .view-line', { hasText: new RegExp(`^${line}$`) });
  await focusRow(page, 'Titled two.');
  await proposed('Two').waitFor();
  await focusRow(page, 'Shouted two.');
  await proposed('TWO').waitFor();
  await page.screenshot({ path: path.join(artifacts, 'vscode-attempts.png') });

  // Enter chooses it: its hunk is the task's proposal, reviewed like any other.
  await page.keyboard.press('Enter');
  await tree.filter({ hasText: 'shout two' }).filter({ hasText: /attempt [12] of 2/ }).waitFor();
  await tree.filter({ hasText: 'line 2: TWO' }).filter({ hasText: 'pending' }).waitFor();
  await runCommand(page, 'Go to File', 'notes.txt', { pick: true });
  await waitFor('the chosen attempt’s Accept CodeLens', async () => (await lenses.count()) === 1);
  await lenses.first().click();
  await waitFor('TWO in the editor', async () => (await page.locator('.monaco-editor .view-line', { hasText: /^TWO$/ }).count()) === 1);
  await page.keyboard.press('Control+S');
  await waitFor('notes.txt saved with the chosen attempt', () => fs.readFileSync(path.join(workspace, 'notes.txt'), 'utf8') === 'one\nTWO\nthree\n', 15_000);
}

/** Picks the quick pick row holding `text` (typing it as the filter). */
async function pickRow(page, text) {
  const box = page.locator('.quick-input-widget input');
  await page.locator('.quick-input-list .monaco-list-row', { hasText: text }).first().waitFor();
  await box.fill(text);
  await page.keyboard.press('Enter');
}

/**
 * Moves the cursor of the quick pick (or of the `list` given) to the row holding `text`,
 * with the arrow keys as a user does.
 */
async function focusRow(page, text, list = '.quick-input-list') {
  const focused = page.locator(`${list} .monaco-list-row.focused`);
  for (let i = 0; i < 10; i++) {
    if ((await focused.filter({ hasText: text }).count()) === 1) {
      return;
    }
    await page.keyboard.press('ArrowDown');
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`no row of ${list} holding ${JSON.stringify(text)} got the cursor`);
}

/** The extension announces itself in the status bar once the server is up. */
async function waitForServer(page) {
  const status = page.locator('.statusbar-item', { hasText: 'agent' });
  await waitFor('the agentls server to start', async () => {
    const text = await status.first().textContent().catch(() => '');
    if (text.includes('stopped')) {
      throw new Error('the extension reports the server stopped; see the *-agentls-output.log artifact');
    }
    return text.trim() === 'agent';
  });
}

async function review(page, workspace, home) {
  await waitForServer(page);

  await runCommand(page, 'Go to File', 'notes.txt', { pick: true });
  await page.waitForSelector('.monaco-editor .view-line:has-text("eight")');
  await page.click('.monaco-editor .view-line:has-text("three")');

  await runCommand(page, 'Agent: New Task', 'capitalise two and eight');
  // Exactly "Accept": not "Edit & Accept" nor "Accepted (your version)".
  const lenses = page.locator('.monaco-editor .codelens-decoration a', { hasText: /^Accept$/ });
  await waitFor('two Accept CodeLenses', async () => (await lenses.count()) === 2);
  await waitFor('the decorations: "eight" struck through, "EIGHT" shown after it', () => page.evaluate(decorated));
  // The task panel (a webview: two nested frames) streamed the transcript.
  const panel = page.frameLocator('iframe.webview').frameLocator('#active-frame');
  await panel.getByText('apply_patch').waitFor();
  await panel.getByText('Task completed: Capitalised two and eight.').waitFor();

  // The Tasks view: task → notes.txt → one row per hunk.
  await page.locator('.pane-header', { hasText: 'Agent Tasks' }).click();
  const tree = page.locator('.pane-body .monaco-list-row');
  await tree.filter({ hasText: 'line 2: TWO' }).waitFor();
  await tree.filter({ hasText: 'line 8: EIGHT' }).waitFor();
  fs.mkdirSync(path.dirname(reviewShot), { recursive: true });
  await page.screenshot({ path: reviewShot });

  // The whole file as proposed, in a diff editor; then back to the file.
  await tree.filter({ hasText: 'modify' }).click();
  await page.locator('.monaco-diff-editor .view-line', { hasText: /^EIGHT$/ }).waitFor();
  await runCommand(page, 'View: Close Editor');
  await runCommand(page, 'Go to File', 'notes.txt', { pick: true });
  await waitFor('the file editor back', async () => (await lenses.count()) === 2);

  // Typing above the hunks moves them; they must follow (the server rebases them, the
  // extension refetches).
  await page.click('.monaco-editor .view-line:has-text("one")');
  await page.keyboard.press('Control+Home');
  await page.keyboard.type('zero');
  await page.keyboard.press('Enter');
  await tree.filter({ hasText: 'line 3: TWO' }).waitFor();
  await tree.filter({ hasText: 'line 9: EIGHT' }).waitFor();

  await lenses.first().click();
  await waitFor('the accepted hunk in the editor', async () => (await page.locator('.monaco-editor .view-line', { hasText: /^TWO$/ }).count()) === 1);
  await waitFor('one Accept CodeLens left', async () => (await lenses.count()) === 1);

  await page.locator('.monaco-editor .codelens-decoration a', { hasText: 'Reject' }).first().click();
  const anyLens = page.locator('.monaco-editor .codelens-decoration a');
  const undoLens = page.locator('.monaco-editor .codelens-decoration a', { hasText: 'Undo' });
  await waitFor('only the accepted hunk’s Undo CodeLens left', async () => (await anyLens.count()) === 1 && (await undoLens.count()) === 1);

  await tree.filter({ hasText: 'line 3: TWO' }).filter({ hasText: 'accepted' }).waitFor();
  await tree.filter({ hasText: 'line 9: EIGHT' }).filter({ hasText: 'rejected' }).waitFor();

  // Undo takes the accepted change back out of the buffer; the hunk is pending again.
  await undoLens.click();
  await waitFor('"two" back in the editor', async () => (await page.locator('.monaco-editor .view-line', { hasText: /^two$/ }).count()) === 1);
  await waitFor('the hunk offered again', async () => (await lenses.count()) === 1);
  await tree.filter({ hasText: 'line 3: TWO' }).filter({ hasText: 'pending' }).waitFor();
  await lenses.first().click();
  await waitFor('the hunk accepted again', async () => (await undoLens.count()) === 1);

  // With nothing stale, refreshing says so.
  await runCommand(page, 'Agent: Refresh Stale Hunks (Current File)');
  await page.locator('.notifications-toasts', { hasText: 'no stale hunks here' }).waitFor();

  // A follow-up turn of the same task proposes "FIVE"; it is rejected with a reason.
  await runCommand(page, 'Agent: Follow Up on Task…', 'capitalise two and eight', { pick: true });
  await answerInput(page, 'also capitalise five');
  await panel.getByText('Follow-up: also capitalise five').waitFor();
  await tree.filter({ hasText: 'line 6: FIVE' }).filter({ hasText: 'pending' }).waitFor();
  await page.click('.monaco-editor .view-line:has-text("five")');
  await runCommand(page, 'Agent: Reject Hunk with Reason…', 'five stays lowercase');
  await tree.filter({ hasText: 'line 6: FIVE' }).filter({ hasText: 'rejected: five stays lowercase' }).waitFor();

  // The next turn proposes "SEVEN"; "Edit & Accept" opens it in an editor, the user writes
  // their own version and saves: that is what lands in notes.txt.
  await runCommand(page, 'Agent: Follow Up on Task…', 'capitalise two and eight', { pick: true });
  await answerInput(page, 'also capitalise seven');
  await tree.filter({ hasText: 'line 8: SEVEN' }).filter({ hasText: 'pending' }).waitFor();
  const proposedLine = page.locator('.monaco-editor .view-line', { hasText: /^SEVEN$/ });
  await actUntilShown(
    () => page.locator('.monaco-editor .codelens-decoration a', { hasText: 'Edit & Accept' }).click(),
    proposedLine,
  );
  await page.locator('.monaco-editor .codelens-decoration a', { hasText: 'Accept This Version' }).waitFor();
  await proposedLine.click();
  await page.keyboard.press('Control+A');
  await page.keyboard.type('Seven!');
  await page.keyboard.press('Control+S');
  await tree.filter({ hasText: 'line 8: Seven!' }).filter({ hasText: 'accepted (your version)' }).waitFor();
  await waitFor('the edit editor closed and "Seven!" in notes.txt', async () =>
    (await proposedLine.count()) === 0 && (await page.locator('.monaco-editor .view-line', { hasText: /^Seven!$/ }).count()) === 1);
  // A lens without a command is a label, not a link.
  await page.locator('.monaco-editor .codelens-decoration', { hasText: 'Accepted (your version)' }).waitFor();

  await page.click('.monaco-editor .view-line:has-text("three")');
  await page.keyboard.press('Control+S');
  await waitFor('notes.txt saved with only the accepted hunk', () => fs.readFileSync(path.join(workspace, 'notes.txt'), 'utf8') === EXPECTED, 15_000)
    .catch((error) => {
      const disk = fs.readFileSync(path.join(workspace, 'notes.txt'), 'utf8');
      throw new Error(`${error.message}; on disk: ${JSON.stringify(disk)}, expected ${JSON.stringify(EXPECTED)}`);
    });

  // Two tasks change "nine": the later one's hunk is a conflict, its CodeLens naming the
  // earlier task's hunk. Accepting that one makes it stale; its hover shows the text there
  // now next to what the agent proposes.
  await runCommand(page, 'Agent: New Task', 'shout nine');
  await waitFor('the Accept CodeLens of "shout nine"', async () => (await lenses.count()) === 1);
  await runCommand(page, 'Agent: New Task', 'exclaim nine');
  await page.locator('.monaco-editor .codelens-decoration a', { hasText: 'Conflicts with hunk 1 of “shout nine”' }).waitFor();
  await lenses.first().click();
  await page.locator('.monaco-editor .codelens-decoration', { hasText: 'Stale:' }).waitFor();
  const nineLine = page.locator('.monaco-editor .view-line', { hasText: /^NINE$/ });
  await nineLine.click();
  await runCommand(page, 'Show or Focus Hover');
  const hover = page.locator('.monaco-hover', { hasText: 'Yours now' });
  await hover.waitFor();
  const hoverText = await hover.first().textContent();
  if (!/\(stale[^)]*\).*Yours now:\s*NINE\s*The agent proposes:\s*Nine!/s.test(hoverText)) {
    throw new Error(`the stale hunk's hover should show "NINE" (yours) and "Nine!" (the agent's), got ${JSON.stringify(hoverText)}`);
  }
  await page.keyboard.press('Escape');
  await history(page, workspace, home);
}

/** The task history, continuing the review: restart, fork, delete, follow up, crash, resume. */
async function history(page, workspace, home) {
  const tree = page.locator('.pane-body .monaco-list-row');
  const taskRows = (prompt) => tree.filter({ hasText: prompt }).filter({ hasText: /completed|interrupted|running|queued/ });
  const logs = () => fs.readdirSync(path.join(home, 'tasks')).filter((f) => f.endsWith('.jsonl')).length;
  const lenses = page.locator('.monaco-editor .codelens-decoration a', { hasText: /^Accept$/ });

  // Room for the Tasks view: fold the Explorer's file tree (rows out of sight are not drawn).
  await page.locator('.pane-header', { hasText: 'workspace' }).first().click();

  // A new server loads the earlier tasks: listed with status and age, hunks as they were.
  await runCommand(page, 'Agent: Restart Server');
  await tree.filter({ hasText: 'line 10: Nine!' }).filter({ hasText: 'stale' }).waitFor();
  await taskRows('exclaim nine').filter({ hasText: 'completed · just now · 1 to review' }).waitFor();
  await taskRows('shout nine').filter({ hasText: 'completed · just now' }).waitFor();
  await taskRows('capitalise two and eight').waitFor();
  await page.locator('.monaco-editor .codelens-decoration', { hasText: 'Stale:' }).waitFor();

  // Fork "exclaim nine" at its end from the context menu: a second row, marked as a fork,
  // with its own log.
  const logsBefore = logs();
  await contextMenu(page, taskRows('exclaim nine'), 'Fork Task…');
  const turn = page.locator('.quick-input-list .monaco-list-row', { hasText: 'At the end' });
  await turn.waitFor();
  await page.locator('.quick-input-list .monaco-list-row', { hasText: 'After turn 1' }).waitFor();
  await turn.click();
  const fork = taskRows('exclaim nine').filter({ hasText: 'fork at turn 2' });
  await fork.waitFor();
  await waitFor('two "exclaim nine" rows', async () => (await taskRows('exclaim nine').count()) === 2);
  await waitFor('the fork’s log', () => logs() === logsBefore + 1);

  // Delete the fork, confirming in the dialog: its row and its log are gone.
  const dialog = page.locator('.monaco-dialog-box', { hasText: 'Delete the task “exclaim nine”?' });
  await actUntilShown(() => contextMenu(page, fork, 'Delete Task…'), dialog);
  await dialog.getByRole('button', { name: 'Delete' }).click();
  await waitFor('one "exclaim nine" row left, not the fork', async () =>
    (await taskRows('exclaim nine').count()) === 1 && (await fork.count()) === 0);
  await waitFor('the fork’s log removed', () => logs() === logsBefore);

  // Follow up on the task the new server loaded: the model continues its conversation.
  await runCommand(page, 'Agent: Follow Up on Task…', 'exclaim nine', { pick: true });
  await answerInput(page, 'also shout ten');
  await tree.filter({ hasText: 'line 11: TEN' }).filter({ hasText: 'pending' }).waitFor();
  const followUp = modelRequests().find((r) => JSON.stringify(r.messages).includes('also shout ten'));
  if (!followUp || !JSON.stringify(followUp.messages).includes('Exclaimed nine.')) {
    throw new Error(`the follow-up should carry the recorded conversation, got ${JSON.stringify(followUp?.messages)}`);
  }
  await waitFor('the Accept CodeLens of TEN', async () => (await lenses.count()) === 1);
  await lenses.first().click();
  await waitFor('TEN in the editor', async () => (await page.locator('.monaco-editor .view-line', { hasText: /^TEN$/ }).count()) === 1);

  // The server dies while the model streams "count to eleven"; the language client starts
  // it again and the view shows the task interrupted, with the hunk its patch made.
  await runCommand(page, 'Agent: New Task', 'count to eleven');
  await waitFor('the turn after the patch to be asked for (it stalls)', () =>
    modelRequests().filter((r) => JSON.stringify(r.messages).includes('count to eleven')).length === 2);
  process.kill(serverPid(home), 'SIGKILL');
  const interrupted = taskRows('count to eleven').filter({ hasText: 'interrupted' });
  await interrupted.waitFor();
  await tree.filter({ hasText: 'line 12: eleven' }).filter({ hasText: 'pending' }).waitFor();

  // Resume it with its inline action.
  await interrupted.hover();
  await interrupted.locator('.action-label[aria-label="Resume Task…"]').click();
  await answerInput(page, 'carry on');
  await taskRows('count to eleven').filter({ hasText: 'completed' }).waitFor();
  await tree.filter({ hasText: 'line 12: eleven' }).filter({ hasText: 'pending' }).waitFor();
}

/** What HEAD holds in the findings session's repository. */
const CALC_COMMITTED = 'def add(a, b):\n    return a + b\n\n\ndef div(a, b):\n    return a / b\n';
/** On disk, uncommitted: `div` floors. */
const CALC_ON_DISK = CALC_COMMITTED.replace('a / b', 'a // b');
/** What the user's unsaved edit makes of it: `add` subtracts. */
const CALC_IN_BUFFER = CALC_ON_DISK.replace('a + b', 'a - b');
/** The buffer once the fix of "div floors" is accepted (the unsaved edit kept). */
const CALC_FIXED = CALC_IN_BUFFER.replace('a // b', 'a / b');
const DIV_FIX = '*** Begin Patch\n*** Update File: calc.py\n@@\n def div(a, b):\n-    return a // b\n+    return a / b\n*** End Patch\n';
const reportFinding = (line, severity, title, fix) => ({
  name: 'report_finding',
  arguments: { path: 'calc.py', startLine: line, endLine: line, severity, title, body: `${title}: is that intended?`, ...(fix && { fix }) },
});

/**
 * "Agent: Review Changes" on a git repository's uncommitted work, an unsaved edit
 * included: the findings in the Problems view, one fixed from the light bulb (a hunk,
 * accepted), the other dismissed.
 */
async function findingsSession() {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'agentls-vscode-findings-'));
  const script = path.join(dir, 'script.json');
  fs.writeFileSync(script, JSON.stringify([
    { toolCalls: [reportFinding(2, 'error', 'add subtracts'), reportFinding(6, 'warning', 'div floors', DIV_FIX)] },
    { text: 'Two problems: add subtracts and div floors.' },
  ]));
  const log = path.join(dir, 'model-requests.jsonl');
  const baseUrl = await startScriptedModel('findings', script, log);
  await session('findings', {
    workspaceFiles: { 'calc.py': CALC_COMMITTED },
    setup: (workspace) => {
      const git = (...args) => execFileSync('git', ['-c', 'user.name=e2e', '-c', 'user.email=e2e@example.invalid', ...args], { cwd: workspace });
      git('init', '-q', '-b', 'main');
      git('add', '-A');
      git('commit', '-q', '-m', 'calc');
      fs.writeFileSync(path.join(workspace, 'calc.py'), CALC_ON_DISK);
    },
    agentlsConfig: `model = "m"\nmodel_provider = "scripted"\n[model_providers.scripted]\nbase_url = "${baseUrl}"\nwire_api = "chat"\n`,
    settings: { 'agentls.serverPath': agentls, 'agentls.openTaskPanel': false },
    run: (page, workspace) => findings(page, workspace, log),
  });
}

async function findings(page, workspace, log) {
  const onDisk = () => fs.readFileSync(path.join(workspace, 'calc.py'), 'utf8');
  await waitForServer(page);
  await runCommand(page, 'Go to File', 'calc.py', { pick: true });
  // A line as shown: the editor draws spaces as no-break spaces.
  const line = (text) => page.locator('.monaco-editor .view-line', { hasText: new RegExp(`^\\s*${text.replace(/[+/]/g, '\\$&').replaceAll(' ', '\\s')}$`) });
  await line('return a + b').waitFor();
  // The unsaved edit: "+" becomes "-" on line 2.
  await line('return a + b').click();
  await page.keyboard.press('End');
  await page.keyboard.press('ArrowLeft');
  await page.keyboard.press('ArrowLeft');
  await page.keyboard.press('Backspace');
  await page.keyboard.type('-');
  await line('return a - b').waitFor();

  await runCommand(page, 'Agent: Review Changes');
  await pickRow(page, 'Uncommitted changes');
  await page.locator('.quick-input-widget', { hasText: 'Anything in particular to look for?' }).waitFor();
  await answerInput(page, 'arithmetic');

  // The findings in the Problems view, each at its line, with its title and source.
  await page.keyboard.press('Control+Shift+M');
  const problems = page.locator('.markers-panel .monaco-list-row');
  const problem = (title) => problems.filter({ hasText: title }).filter({ hasText: 'agentls review' });
  await problem('add subtracts').filter({ hasText: '[Ln 2, Col' }).waitFor();
  await problem('div floors').filter({ hasText: '[Ln 6, Col' }).waitFor();
  const asked = JSON.stringify((await waitFor('the review’s model request', () => modelRequests(log)[0])).messages);
  for (const expected of ['-    return a + b\\n+    return a - b', '-    return a / b\\n+    return a // b', 'arithmetic']) {
    if (!asked.includes(expected)) {
      throw new Error(`the review should have shown the model ${expected} (the unsaved edit, the change on disk, the instructions), got ${asked}`);
    }
  }
  await page.screenshot({ path: path.join(artifacts, 'vscode-findings.png') });

  // Quick Fix on "div floors": "Apply fix" makes its fix a pending hunk, accepted from its
  // CodeLens; the buffer changes, the file on disk does not until it is saved.
  await line('return a // b').click();
  await page.keyboard.press('Control+.');
  await quickFix(page, 'Apply fix: div floors');
  const accept = page.locator('.monaco-editor .codelens-decoration a', { hasText: /^Accept$/ });
  await waitFor('the fix’s hunk', async () => (await accept.count()) === 1);
  await accept.click();
  await line('return a / b').waitFor();
  await waitFor('the buffer to hold the fixed text', async () => (await editorText(page)) === CALC_FIXED)
    .catch(async (error) => {
      throw new Error(`${error.message}: ${JSON.stringify(await editorText(page))}, expected ${JSON.stringify(CALC_FIXED)}`);
    });
  if (onDisk() !== CALC_ON_DISK) {
    throw new Error(`accepting the fix changes the buffer, not calc.py on disk: ${JSON.stringify(onDisk())}`);
  }
  // The fix changed the lines "div floors" points at: it is gone, the other one stays.
  await waitFor('"div floors" gone from the Problems view', async () => (await problem('div floors').count()) === 0);
  await problem('add subtracts').waitFor();

  // Dismiss "add subtracts" from its code actions: its diagnostic goes away.
  await line('return a - b').click();
  await page.keyboard.press('Control+.');
  await quickFix(page, 'Dismiss finding: add subtracts');
  await waitFor('"add subtracts" gone from the Problems view', async () => (await problem('add subtracts').count()) === 0);

  await page.keyboard.press('Control+S');
  await waitFor('calc.py saved with the fix and the user’s edit', () => onDisk() === CALC_FIXED, 15_000);
}

/**
 * Chooses `title` in the Quick Fix menu (Ctrl+.), which lists the actions under the cursor,
 * with the keyboard (the menu's pointer block takes the clicks of a scripted mouse).
 */
async function quickFix(page, title) {
  await page.locator('.action-widget .monaco-list-row', { hasText: title }).waitFor();
  await focusRow(page, title, '.action-widget');
  await page.keyboard.press('Enter');
}

/** The text of the editor's (short, unwrapped) file as shown, lines in screen order. */
async function editorText(page) {
  const lines = await page.locator('.monaco-editor:not(.monaco-diff-editor *) .view-lines').first().evaluate((el) =>
    [...el.querySelectorAll('.view-line')]
      .map((l) => ({ top: parseFloat(l.style.top), text: l.textContent.replace(/\u00a0/g, ' ') }))
      .sort((a, b) => a.top - b.top)
      .map((l) => l.text));
  // A final newline shows as an empty last line.
  return lines.join('\n');
}

/** Opens a tree row's context menu and runs one of its entries. */
/**
 * Does `act` (a click) until `shown` is visible, at most three times: a click that lands
 * while the workbench re-renders its target (a CodeLens refreshed by a task update, a
 * tree row) is lost, and a user would click again. A feature that never shows fails.
 */
async function actUntilShown(act, shown, tries = 3) {
  for (let attempt = 1; ; attempt++) {
    await act();
    try {
      await shown.waitFor({ timeout: attempt < tries ? 10_000 : STEP_TIMEOUT });
      return;
    } catch (error) {
      if (attempt >= tries) throw error;
    }
  }
}

async function contextMenu(page, row, entry) {
  await row.click({ button: 'right' });
  // The menu acts on the focused entry; hovering focuses it.
  await page.locator('.context-view .action-label', { hasText: entry }).hover();
  await page.locator('.context-view .action-item.focused', { hasText: entry }).waitFor();
  await page.keyboard.press('Enter');
}

/** The agentls server of this session: the process running AGENTLS_BIN with its home. */
function serverPid(home) {
  for (const pid of fs.readdirSync('/proc').filter((p) => /^\d+$/.test(p))) {
    try {
      const argv = fs.readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').filter(Boolean);
      const environ = fs.readFileSync(`/proc/${pid}/environ`, 'utf8').split('\0');
      if (argv.length === 1 && argv[0] === agentls && environ.includes(`AGENTLS_HOME=${home}`)) {
        return Number(pid);
      }
    } catch {
      // gone meanwhile, or not ours to read
    }
  }
  throw new Error(`no agentls server with AGENTLS_HOME=${home} is running`);
}

/** Decorations are CSS (a line-through class, an ::after with the new text): read styles. */
function decorated() {
  const spans = [...document.querySelectorAll('.monaco-editor .view-line span span')];
  const struck = spans.some((s) => s.textContent.includes('eight') && getComputedStyle(s).textDecorationLine.includes('line-through'));
  const shown = spans.some((s) => getComputedStyle(s, '::after').content.includes('EIGHT'));
  return struck && shown;
}

/**
 * Runs a command from the command palette; `input` answers the prompt it opens, and with
 * `pick` it is a filter whose first match is chosen.
 */
async function runCommand(page, command, input, { pick = false } = {}) {
  await page.keyboard.press('F1');
  const box = page.locator('.quick-input-widget input');
  await box.waitFor({ state: 'visible' });
  await box.fill(`>${command}`);
  await page.locator('.quick-input-list .monaco-list-row', { hasText: command }).first().waitFor();
  await page.keyboard.press('Enter');
  if (input !== undefined) {
    await waitFor(`the input box of "${command}"`, async () => (await box.isVisible()) && !(await box.inputValue()).startsWith('>'));
    await box.fill(input);
    if (pick) {
      await page.locator('.quick-input-list .monaco-list-row', { hasText: input }).first().waitFor();
    }
    await page.keyboard.press('Enter');
  }
}

/** Answers the input box a command opened after its first prompt. */
async function answerInput(page, text) {
  const box = page.locator('.quick-input-widget input');
  await waitFor('the next input box', async () => (await box.isVisible()) && (await box.inputValue()) === '');
  await box.fill(text);
  await page.keyboard.press('Enter');
}

/** The extension's output channel (it includes the server's stderr) as a test artifact. */
function copyServerLogs(userData, name) {
  const logs = path.join(userData, 'logs');
  if (!fs.existsSync(logs)) {
    return;
  }
  for (const file of fs.readdirSync(logs, { recursive: true })) {
    if (String(file).endsWith('agentls.log')) {
      fs.copyFileSync(path.join(logs, file), path.join(artifacts, `${name}-agentls-output.log`));
    }
  }
}

function stop(child) {
  try {
    process.kill(-child.pid, 'SIGTERM');
  } catch {
    // already gone
  }
}

fs.mkdirSync(artifacts, { recursive: true });
const sessions = { review: reviewSession, approval: approvalSession, acp: agentSession, attempts: attemptsSession, findings: findingsSession };
const only = process.env.E2E_SESSIONS?.split(',');
try {
  for (const [name, run] of Object.entries(sessions)) {
    if (!only || only.includes(name)) {
      await run();
    }
  }
} finally {
  await browser?.close().catch(() => undefined);
  children.forEach(stop);
}
