// What the extension knows about the server's tasks: summaries, transcripts built from
// `agent/taskUpdate`, and each task's proposal. Views, CodeLens and decorations all draw
// from here and redraw when `onDidChange` fires; nothing here touches the UI except the
// one error message per failed task event.

import * as vscode from 'vscode';
import { LanguageClient } from 'vscode-languageclient/node';
import { describeError } from './server';
import {
  AttemptInfo,
  ForkTaskParams,
  GetProposalParams,
  GetTaskResult,
  HunkId,
  HunkInfo,
  ImportAttemptsParams,
  isFinished,
  method,
  PlanItem,
  Proposal,
  ProposalFile,
  RefreshProposalResult,
  ResolveHunksParams,
  ResolveHunksResult,
  StartTaskParams,
  TaskStatus,
  TaskSummary,
  TaskUpdateParams,
  UndoHunksResult,
} from './protocol';

export type TranscriptEntry =
  | { type: 'followUp'; prompt: string }
  | { type: 'message'; text: string }
  | { type: 'reasoning'; text: string }
  | { type: 'tool'; callId: string; tool: string; args: unknown; status: string; ok?: boolean; output?: string }
  | { type: 'plan'; explanation?: string; plan: PlanItem[] }
  | { type: 'error'; message: string; willRetry: boolean }
  | { type: 'finished'; status: TaskStatus; summary?: string };

export interface TaskState {
  summary: TaskSummary;
  transcript: TranscriptEntry[];
  proposal?: Proposal;
  /** A best-of-N task's attempts, in order, and the one chosen. */
  attempts?: AttemptInfo[];
  chosenAttempt?: number;
  /** Highest `seq` applied: replays and duplicates are ignored. */
  seq: number;
}

/** A hunk together with the task and file it belongs to. */
export interface HunkRef {
  taskId: string;
  uri: string;
  hunk: HunkInfo;
}

export class Tasks implements vscode.Disposable {
  private readonly tasks = new Map<string, TaskState>();
  private readonly changed = new vscode.EventEmitter<string | undefined>();
  private readonly refreshing = new Map<string, Promise<void>>();
  private readonly refreshAgain = new Set<string>();
  /** Tasks deleted here: an update of theirs still on its way must not bring them back. */
  private readonly deleted = new Set<string>();

  /** Fires with the task id that changed, or undefined when everything may have. */
  readonly onDidChange = this.changed.event;

  constructor(private readonly client: () => LanguageClient | undefined) {}

  dispose(): void {
    this.changed.dispose();
  }

  list(): TaskState[] {
    return [...this.tasks.values()].sort((a, b) => b.summary.createdAt - a.summary.createdAt);
  }

  get(taskId: string): TaskState | undefined {
    return this.tasks.get(taskId);
  }

  running(): TaskState[] {
    return this.list().filter((t) => !isFinished(t.summary.status));
  }

  /** Every hunk of every task in the file, whatever its status. */
  hunksIn(uri: vscode.Uri): HunkRef[] {
    const key = uri.toString();
    const refs: HunkRef[] = [];
    for (const task of this.tasks.values()) {
      for (const file of task.proposal?.files ?? []) {
        if (sameUri(file.uri, key)) {
          refs.push(...file.hunks.map((hunk) => ({ taskId: task.summary.taskId, uri: file.uri, hunk })));
        }
      }
    }
    return refs;
  }

  /** Hunks still waiting for a decision (pending, stale or in conflict). */
  openHunks(taskId?: string): HunkRef[] {
    return this.hunksWhere((status) => isOpen(status), taskId);
  }

  /** Hunks whose status passes `wanted`, of one task or all. */
  hunksWhere(wanted: (status: HunkInfo['status']) => boolean, taskId?: string): HunkRef[] {
    const refs: HunkRef[] = [];
    for (const task of this.tasks.values()) {
      if (taskId && task.summary.taskId !== taskId) {
        continue;
      }
      for (const file of task.proposal?.files ?? []) {
        for (const hunk of file.hunks) {
          if (wanted(hunk.status)) {
            refs.push({ taskId: task.summary.taskId, uri: file.uri, hunk });
          }
        }
      }
    }
    return refs;
  }

  /** A hunk of some task in words: "hunk 3 of “add logging”", or its id if unknown. */
  describeHunk(ref: HunkId): string {
    const prompt = this.tasks.get(ref.taskId)?.summary.prompt;
    const number = /-(\d+)$/.exec(ref.hunkId)?.[1];
    return prompt && number ? `hunk ${number} of “${shorten(prompt, 40)}”` : ref.hunkId;
  }

  /** A hunk by id, with its task and file. */
  find(ref: HunkId): HunkRef | undefined {
    return this.hunksWhere(() => true, ref.taskId).find((r) => r.hunk.hunkId === ref.hunkId);
  }

  /** The file of a proposal that holds a hunk (for its kind and rename target). */
  fileOf(ref: HunkRef): ProposalFile | undefined {
    return this.tasks.get(ref.taskId)?.proposal?.files.find((file) => file.hunks.includes(ref.hunk));
  }

  /** Starts a task; `label` names it in lists when its prompt does not (a review). */
  async start(params: StartTaskParams, label?: string): Promise<string> {
    const { taskId } = await this.request<{ taskId: string }>(method.startTask, params);
    const prompt = params.prompt || label || '';
    const state = this.ensure({ taskId, prompt, mode: params.mode, status: 'queued', createdAt: Date.now() });
    // An update may have arrived before this answer and created the entry.
    state.summary.prompt = prompt;
    state.summary.mode = params.mode;
    this.changed.fire(taskId);
    return taskId;
  }

  /** Follows a task the server created for another request (agent/importDiff). */
  async track(taskId: string): Promise<void> {
    await this.load(taskId);
  }

  async cancel(taskId: string): Promise<void> {
    await this.request(method.cancelTask, { taskId });
  }

  /** Accepts and rejects hunks of one task, then redraws from the server's answer. */
  async resolve(taskId: string, accept: string[], reject: string[], reason?: string): Promise<void> {
    if (accept.length === 0 && reject.length === 0) {
      return;
    }
    const params: ResolveHunksParams = { taskId, accept, reject, reason: reason || undefined };
    await this.request(method.resolveHunks, params);
    await this.refreshProposal(taskId);
  }

  /** Accepts one hunk with the user's text instead of the proposed one. */
  async acceptEdited(taskId: string, hunkId: string, newText: string): Promise<ResolveHunksResult> {
    const params: ResolveHunksParams = { taskId, accept: [], reject: [], edits: [{ hunkId, newText }] };
    const result = await this.request<ResolveHunksResult>(method.resolveHunks, params);
    await this.refreshProposal(taskId);
    return result;
  }

  /** Takes accepted hunks back (pending again); the answer lists the ones refused, and why. */
  async undo(taskId: string, hunkIds: string[]): Promise<UndoHunksResult> {
    const result = await this.request<UndoHunksResult>(method.undoHunks, { taskId, hunkIds });
    await this.refreshProposal(taskId);
    return result;
  }

  /** Re-places stale hunks (all of the task's without ids) on the current text. */
  async refreshStale(taskId: string, hunkIds: string[] = []): Promise<RefreshProposalResult> {
    const result = await this.request<RefreshProposalResult>(method.refreshProposal, { taskId, hunkIds });
    await this.refreshProposal(taskId);
    return result;
  }

  /** Runs another turn of a finished task; its updates stream in like a new task's. */
  async followUp(taskId: string, prompt: string): Promise<void> {
    await this.request(method.followUp, { taskId, prompt });
    const state = this.tasks.get(taskId);
    if (state) {
      state.summary.status = 'running';
      state.transcript.push({ type: 'followUp', prompt });
      this.changed.fire(taskId);
    }
  }

  /**
   * A new task with the conversation of a finished one up to model turn `atTurn` (all of
   * it without) and its undecided hunks under new ids; returns the fork's id.
   */
  async fork(taskId: string, atTurn?: number): Promise<string> {
    const params: ForkTaskParams = { taskId, atTurn };
    const { taskId: forkId } = await this.request<{ taskId: string }>(method.forkTask, params);
    await this.load(forkId);
    this.changed.fire(forkId);
    return forkId;
  }

  /** Makes an attempt's hunks the task's proposal (the others stay listed). */
  async chooseAttempt(taskId: string, attempt: number): Promise<void> {
    await this.request(method.chooseAttempt, { taskId, attempt });
    const state = this.tasks.get(taskId);
    if (state) {
      state.chosenAttempt = attempt;
    }
    await this.refreshProposal(taskId);
  }

  /** An attempt's hunks as choosing it now would place them, all pages (or one file's). */
  previewAttempt(taskId: string, attempt: number, uri?: string): Promise<ProposalFile[]> {
    return this.fetchPages({ taskId, attempt, uri });
  }

  /** Pulls attempts pushed elsewhere (`agentls exec --push`) in as one new task. */
  async importAttempts(params: ImportAttemptsParams): Promise<string> {
    const { taskId } = await this.request<{ taskId: string }>(method.importAttempts, params);
    await this.load(taskId);
    this.changed.fire(taskId);
    return taskId;
  }

  /** Removes a finished task on the server (its hunks, its history) and here. */
  async delete(taskId: string): Promise<void> {
    await this.request(method.deleteTask, { taskId });
    this.deleted.add(taskId);
    this.tasks.delete(taskId);
    this.changed.fire(undefined);
  }

  /** Loads every task the server has: on start, after a restart, and its earlier ones. */
  async reload(): Promise<void> {
    const { tasks } = await this.request<{ tasks: TaskSummary[] }>(method.listTasks, {});
    // Tasks the server still has are updated in place (their rows keep their state);
    // the others are gone.
    const listed = new Set(tasks.map((summary) => summary.taskId));
    for (const taskId of [...this.tasks.keys()]) {
      if (!listed.has(taskId)) {
        this.tasks.delete(taskId);
      }
    }
    await Promise.all(tasks.map((summary) => this.load(summary.taskId)));
    this.changed.fire(undefined);
  }

  private async load(taskId: string): Promise<void> {
    const full = await this.request<GetTaskResult>(method.getTask, { taskId });
    const { events, attempts, chosenAttempt, ...summary } = full;
    const state = this.ensure(summary);
    state.summary = summary;
    state.attempts = attempts;
    state.chosenAttempt = chosenAttempt;
    // The whole history comes with the answer: rebuild the transcript from it. After a
    // crash a new server may number updates again from where its log ends.
    state.transcript = [];
    state.seq = 0;
    for (const event of events) {
      this.apply(state, event, false);
    }
    await this.refreshProposal(taskId);
  }

  handleUpdate(params: TaskUpdateParams): void {
    if (this.deleted.has(params.taskId)) {
      return;
    }
    const known = this.tasks.has(params.taskId);
    const state = this.ensure({
      taskId: params.taskId,
      prompt: '(task)',
      mode: 'code',
      status: 'running',
      createdAt: Date.now(),
    });
    if (this.apply(state, params, true)) {
      this.changed.fire(params.taskId);
    }
    if (!known) {
      // Started elsewhere (another command, a reconnect): fetch its prompt and history.
      this.load(params.taskId).catch((error) => this.client()?.warn(`getTask ${params.taskId} failed: ${describeError(error)}`));
    }
  }

  /** Applies one event; returns false for one already seen. */
  private apply(state: TaskState, params: TaskUpdateParams, live: boolean): boolean {
    if (params.seq <= state.seq) {
      return false;
    }
    state.seq = params.seq;
    const update = params.update;
    const transcript = state.transcript;
    const last = transcript[transcript.length - 1];
    switch (update.kind) {
      case 'status':
        state.summary.status = update.status;
        break;
      case 'message':
      case 'reasoning':
        if (last?.type === update.kind) {
          last.text += update.delta;
        } else {
          transcript.push({ type: update.kind, text: update.delta });
        }
        break;
      case 'toolCall': {
        const call = transcript.find((e) => e.type === 'tool' && e.callId === update.callId);
        if (call?.type === 'tool') {
          call.status = update.status;
        } else {
          transcript.push({ type: 'tool', callId: update.callId, tool: update.tool, args: update.args, status: update.status });
        }
        break;
      }
      case 'toolResult': {
        const call = transcript.find((e) => e.type === 'tool' && e.callId === update.callId);
        if (call?.type === 'tool') {
          call.ok = update.ok;
          call.output = update.output;
        }
        break;
      }
      case 'plan':
        transcript.push({ type: 'plan', explanation: update.explanation, plan: update.plan });
        break;
      case 'error':
        transcript.push({ type: 'error', message: update.message, willRetry: update.willRetry });
        if (live && !update.willRetry) {
          void vscode.window.showErrorMessage(`agentls task "${shorten(state.summary.prompt)}": ${update.message}`);
        }
        break;
      case 'finished':
        state.summary.status = update.status;
        state.summary.summary = update.summary;
        transcript.push({ type: 'finished', status: update.status, summary: update.summary });
        break;
      case 'usage':
        // Each model turn reports its usage: the count a fork offers grows with it, so a
        // task finished in this session can be forked without reloading it.
        state.summary.turns = Math.max(state.summary.turns ?? 0, update.turn);
        break;
      case 'attempt': {
        const { kind: _, ...info } = update;
        const attempts = (state.attempts ??= []);
        attempts[info.attempt - 1] = info;
        break;
      }
      case 'attemptChosen':
        state.chosenAttempt = update.attempt;
        break;
      case 'proposal':
      case 'hunks':
        break;
    }
    const refetch = ['proposal', 'hunks', 'finished', 'attemptChosen'].includes(update.kind);
    if (live && refetch) {
      void this.refreshProposal(params.taskId);
    }
    return true;
  }

  /**
   * Refetches a task's proposal, or with `uri` only that file of it. Calls that arrive
   * while one is in flight fold into a single follow-up of the whole proposal, so a burst
   * of updates costs two requests, and the last one wins.
   */
  refreshProposal(taskId: string, uri?: string): Promise<void> {
    const inFlight = this.refreshing.get(taskId);
    if (inFlight) {
      this.refreshAgain.add(taskId);
      return inFlight;
    }
    const run = (async () => {
      let only = uri;
      do {
        this.refreshAgain.delete(taskId);
        try {
          const files = await this.fetchProposal({ taskId, uri: only });
          const state = this.tasks.get(taskId);
          if (state) {
            state.proposal = { taskId, files: only ? withFile(state.proposal?.files ?? [], only, files) : files };
            this.changed.fire(taskId);
          }
        } catch (error) {
          // The task may be gone after a server restart; the next reload redraws.
          this.client()?.warn(`getProposal ${taskId} failed: ${describeError(error)}`);
          break;
        }
        only = undefined;
      } while (this.refreshAgain.has(taskId));
    })().finally(() => this.refreshing.delete(taskId));
    this.refreshing.set(taskId, run);
    return run;
  }

  /**
   * A proposal's files, page by page until `nextCursor` is absent; a file that goes on
   * over a page boundary is merged back into one.
   */
  private async fetchProposal(params: GetProposalParams): Promise<ProposalFile[]> {
    for (let attempt = 0; ; attempt++) {
      try {
        return await this.fetchPages(params);
      } catch (error) {
        // The task's hunks changed between two pages (a follow-up finished): the server
        // refuses the old cursor, and the listing starts over.
        if (attempt >= 3 || !describeError(error).includes('start again without a cursor')) {
          throw error;
        }
      }
    }
  }

  private async fetchPages(params: GetProposalParams): Promise<ProposalFile[]> {
    const files: ProposalFile[] = [];
    const byUri = new Map<string, ProposalFile>();
    let cursor: string | undefined;
    do {
      const page: Proposal = await this.request<Proposal>(method.getProposal, { ...params, cursor });
      for (const file of page.files) {
        const seen = byUri.get(file.uri);
        if (seen) {
          seen.hunks.push(...file.hunks);
        } else {
          byUri.set(file.uri, file);
          files.push(file);
        }
      }
      if (page.nextCursor !== undefined && page.nextCursor === cursor) {
        throw new Error(`the server sent the page at cursor ${cursor} twice`);
      }
      cursor = page.nextCursor;
    } while (cursor !== undefined);
    return files;
  }


  /** Refetches the file in the proposals that have hunks in it (after the user typed). */
  refreshFile(uri: vscode.Uri): void {
    const tasks = new Set(this.hunksIn(uri).map((ref) => ref.taskId));
    for (const taskId of tasks) {
      void this.refreshProposal(taskId, uri.toString());
    }
  }

  private ensure(summary: TaskSummary): TaskState {
    let state = this.tasks.get(summary.taskId);
    if (!state) {
      state = { summary, transcript: [], seq: 0 };
      this.tasks.set(summary.taskId, state);
    }
    return state;
  }

  private async request<T>(name: string, params: unknown): Promise<T> {
    const client = this.client();
    if (!client || !client.isRunning()) {
      throw new Error('the agentls server is not running (see the "agentls" output channel, or run "Agent: Restart Server")');
    }
    return client.sendRequest<T>(name, params);
  }
}

/** `files` with the entry for `uri` replaced by `fetched` (none: the file has no hunks now). */
function withFile(files: ProposalFile[], uri: string, fetched: ProposalFile[]): ProposalFile[] {
  const at = files.findIndex((file) => sameUri(file.uri, uri));
  if (at < 0) {
    return [...files, ...fetched];
  }
  return [...files.slice(0, at), ...fetched, ...files.slice(at + 1).filter((file) => !sameUri(file.uri, uri))];
}

export function isOpen(status: HunkInfo['status']): boolean {
  return status === 'pending' || status === 'stale' || status === 'conflict';
}

export function shorten(text: string, max = 60): string {
  const line = text.split('\n')[0];
  return line.length > max ? `${line.slice(0, max - 1)}…` : line;
}

/** URIs from the server and from VS Code may differ in escaping (`%3A` vs `:`). */
export function sameUri(a: string, b: string): boolean {
  return a === b || vscode.Uri.parse(a).toString() === vscode.Uri.parse(b).toString();
}
