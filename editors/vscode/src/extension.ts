// Entry point of the agentls extension: starts the server, routes its notifications and
// requests to the task store and the approval prompt, and wires views and commands.
// All review semantics live in the server; this extension renders and forwards.

import * as vscode from 'vscode';
import { LanguageClient, State } from 'vscode-languageclient/node';
import { askApproval } from './approvals';
import { Attempts } from './attempts';
import { registerCommands } from './commands';
import { method, RequestApprovalParams, TaskUpdateParams } from './protocol';
import { Review } from './review';
import { HunkEdits } from './hunkEdit';
import { createClient, describeError, resolveServerPath } from './server';
import { TaskPanels } from './taskPanel';
import { Tasks } from './tasks';
import { TasksView } from './tasksView';

let client: LanguageClient | undefined;

export async function activate(context: vscode.ExtensionContext): Promise<void> {
  const output = vscode.window.createOutputChannel('agentls', { log: true });
  const tasks = new Tasks(() => client);
  const review = new Review(tasks);
  const edits = new HunkEdits(tasks);
  const panels = new TaskPanels(tasks);
  const attempts = new Attempts(tasks);
  const view = new TasksView(tasks);
  const status = new StatusBar(tasks);

  const start = async (): Promise<void> => {
    const server = resolveServerPath();
    if ('problem' in server) {
      const choice = await vscode.window.showErrorMessage(`agentls: ${server.problem}`, 'Open Settings');
      if (choice) {
        await vscode.commands.executeCommand('workbench.action.openSettings', 'agentls.serverPath');
      }
      return;
    }
    client = createClient(server.path, output);
    client.onNotification(method.taskUpdate, (params: TaskUpdateParams) => tasks.handleUpdate(params));
    client.onRequest(method.requestApproval, (params: RequestApprovalParams) => askApproval(tasks, params));
    client.onDidChangeState((change) => {
      status.serverState(change.newState);
      // Each server (this one, or the one the client starts after a crash) loads the
      // workspace's earlier tasks: list them.
      if (change.newState === State.Running) {
        tasks.reload().catch((error) => output.warn(`listing the tasks failed: ${describeError(error)}`));
      }
    });
    try {
      await client.start();
    } catch (error) {
      void vscode.window.showErrorMessage(`agentls: the server at ${server.path} did not start: ${describeError(error)}`);
    }
  };
  const restart = async (): Promise<void> => {
    await stopClient();
    await start();
  };

  context.subscriptions.push(
    output,
    tasks,
    review,
    edits,
    panels,
    attempts,
    view,
    status,
    vscode.window.registerTreeDataProvider('agentls.tasks', view),
    ...registerCommands({
      tasks,
      panels,
      review,
      edits,
      attempts,
      restart,
      sendRequest: async (name, params) => {
        if (!client?.isRunning()) {
          throw new Error('the agentls server is not running; run "Agent: Restart Server"');
        }
        return client.sendRequest(name, params);
      },
    }),
    vscode.workspace.onDidChangeConfiguration((event) => {
      if (['agentls.serverPath', 'agentls.model', 'agentls.profile', 'agentls.approvalPolicy'].some((s) => event.affectsConfiguration(s))) {
        void vscode.window.showInformationMessage('agentls settings changed: restart the server to apply them.', 'Restart').then((choice) => {
          if (choice) {
            void restart();
          }
        });
      }
    }),
  );
  await start();
}

export async function deactivate(): Promise<void> {
  await stopClient();
}

/**
 * Stops the server and waits for its process to exit: until then it holds its task logs,
 * and a server started meanwhile would leave those tasks out.
 */
async function stopClient(): Promise<void> {
  const running = client;
  client = undefined;
  if (!running) {
    return;
  }
  const server = running.serverProcess;
  const exited = server && server.exitCode === null && server.signalCode === null
    ? new Promise<void>((resolve) => server.once('exit', () => resolve()))
    : Promise.resolve();
  await running.stop().catch(() => undefined);
  // The client kills a server that has not exited two seconds after `exit`.
  await Promise.race([exited, new Promise<void>((resolve) => setTimeout(resolve, 5000))]);
}

/** One item: running tasks with a spinner, else hunks awaiting review, else idle. */
class StatusBar implements vscode.Disposable {
  private readonly item = vscode.window.createStatusBarItem('agentls.status', vscode.StatusBarAlignment.Left, 10);
  private readonly subscription: vscode.Disposable;
  private server: State = State.Starting;

  constructor(private readonly tasks: Tasks) {
    this.item.name = 'agentls';
    this.item.command = 'agentls.showTasks';
    this.subscription = tasks.onDidChange(() => this.render());
    this.render();
    this.item.show();
  }

  serverState(state: State): void {
    this.server = state;
    this.render();
  }

  dispose(): void {
    this.subscription.dispose();
    this.item.dispose();
  }

  private render(): void {
    if (this.server === State.Starting) {
      this.item.text = '$(loading~spin) agent: starting';
      this.item.tooltip = 'The agentls server is starting.';
      return;
    }
    if (this.server === State.Stopped) {
      this.item.text = '$(circle-slash) agent: stopped';
      this.item.tooltip = 'The agentls server is not running. Click for tasks; run "Agent: Restart Server" to start it.';
      return;
    }
    const running = this.tasks.running().length;
    const open = this.tasks.openHunks().length;
    if (running > 0) {
      this.item.text = `$(sync~spin) agent: ${running} running${open > 0 ? ` · ${open} to review` : ''}`;
    } else if (open > 0) {
      this.item.text = `$(diff) agent: ${open} to review`;
    } else {
      this.item.text = '$(hubot) agent';
    }
    this.item.tooltip = 'agentls tasks: click to show them';
  }
}
