// The agent/* wire types the extension uses, mirroring server/src/protocol.rs (the
// contract; docs/protocol.md shows each as JSON). Only the fields we read are typed.

import { Range as LspRange } from 'vscode-languageclient/node';

export type HunkStatus = 'pending' | 'accepted' | 'rejected' | 'stale' | 'conflict';
export type TaskStatus = 'queued' | 'running' | 'completed' | 'failed' | 'cancelled' | 'interrupted';
export type TaskMode = 'code' | 'ask' | 'review';

/** What a review looks at: exactly one field. */
export interface ReviewTarget {
  uncommitted?: boolean;
  baseBranch?: string;
  commit?: string;
  diff?: string;
}

export interface ContextRef {
  uri: string;
  range?: LspRange;
}

export interface StartTaskParams {
  prompt: string;
  mode: TaskMode;
  context?: ContextRef[];
  /** An ACP agent from `agent/listAgents`; absent: the built-in one. */
  agent?: string;
  /** Run this many attempts side by side (2 to 8); the user chooses one. */
  bestOf?: number;
  /** `firstGreen`: the first attempt whose last command exited 0 is chosen by itself. */
  choose?: 'manual' | 'firstGreen';
  /** `review` mode: the change to review, and what to look for. */
  target?: ReviewTarget;
  instructions?: string;
}

/** One entry of `agent/listAgents`. */
export interface AgentInfo {
  name: string;
  description?: string;
  builtIn: boolean;
  command?: string[];
  /** Why a task with it would fail now. */
  problem?: string;
}

/** One attempt of a best-of-N task (local, or pushed from elsewhere and imported). */
export interface AttemptInfo {
  attempt: number;
  status: TaskStatus;
  summary?: string;
  files: number;
  hunks: number;
  added: number;
  removed: number;
  usage: { inputTokens: number; outputTokens: number; totalTokens: number };
  /** The last command it ran (its test, usually): green when it exited 0. */
  lastCommand?: { command: string; exitCode: number };
  /** An imported attempt's git ref and commit. */
  source?: { ref: string; commit: string };
}

export interface ImportAttemptsParams {
  remote?: string;
  refs?: string[];
  prefix?: string;
}

export interface TaskSummary {
  taskId: string;
  prompt: string;
  mode: TaskMode;
  status: TaskStatus;
  createdAt: number;
  finishedAt?: number;
  summary?: string;
  /** Model turns so far, over every run: what `agent/forkTask`'s `atTurn` counts. */
  turns?: number;
  /** Set on a task made by `agent/forkTask`. */
  forkedFrom?: ForkOrigin;
}

/** The task a fork was made from, and the last of its model turns the fork kept. */
export interface ForkOrigin {
  taskId: string;
  atTurn: number;
}

/** A new task from a finished one's conversation up to `atTurn` (default: all of it). */
export interface ForkTaskParams {
  taskId: string;
  atTurn?: number;
}

/** A hunk of some task. */
export interface HunkId {
  taskId: string;
  hunkId: string;
}

export interface HunkInfo {
  hunkId: string;
  range: LspRange;
  oldText: string;
  newText: string;
  status: HunkStatus;
  /** Why it is stale or in conflict; for a rejected hunk, the user's reason. */
  reason?: string;
  /** Stale or conflict: what `range` holds now (the user's side). */
  currentText?: string;
  /** Conflict with another task: that task's hunk. */
  conflictsWith?: HunkId;
  /** Accepted with the user's own text: what the task proposed. */
  proposedText?: string;
}

export interface ProposalFile {
  uri: string;
  kind: 'modify' | 'create' | 'delete' | 'rename';
  newUri?: string;
  baseVersion?: number;
  hunks: HunkInfo[];
}

export interface GetProposalParams {
  taskId: string;
  /** Only this file. */
  uri?: string;
  /** `nextCursor` of the previous page. */
  cursor?: string;
  limit?: number;
  /** A best-of-N task's attempt, previewed as choosing it would place it (read-only). */
  attempt?: number;
}

export interface Proposal {
  taskId: string;
  files: ProposalFile[];
  /** More follows: pass it as `cursor`. A file may go on over pages (same `uri`). */
  nextCursor?: string;
  totalFiles?: number;
  totalHunks?: number;
}

export interface HunkState {
  hunkId: string;
  status: HunkStatus;
  reason?: string;
  conflictsWith?: HunkId;
}

export interface ResolveHunksParams {
  taskId: string;
  accept: string[];
  reject: string[];
  /** Why the user rejected `reject`; a follow-up turn shows it to the model. */
  reason?: string;
  /** Hunks accepted with the user's own text instead of their `newText`. */
  edits?: HunkEdit[];
}

export interface HunkEdit {
  hunkId: string;
  newText: string;
}

export interface ResolveHunksResult {
  applied: boolean;
  hunks: HunkState[];
  /** Requested hunks neither sent nor written, each with why. */
  refused?: Refusal[];
}

export interface Refusal {
  hunkId: string;
  reason: string;
}

export interface RefreshProposalResult {
  /** Pending again (re-placed) or still stale. */
  hunks: HunkState[];
}

export interface UndoHunksResult {
  applied: boolean;
  hunks: HunkState[];
  refused?: Refusal[];
}

export interface PlanItem {
  step: string;
  status: 'pending' | 'in_progress' | 'completed';
}

export type TaskUpdate =
  | { kind: 'status'; status: TaskStatus }
  | { kind: 'message'; delta: string }
  | { kind: 'reasoning'; delta: string }
  | { kind: 'toolCall'; callId: string; tool: string; args: unknown; status: 'running' | 'completed' | 'failed' }
  | { kind: 'toolResult'; callId: string; ok: boolean; output: string }
  | { kind: 'plan'; explanation?: string; plan: PlanItem[] }
  | { kind: 'proposal'; files: number; hunks: number }
  | { kind: 'hunks'; hunks: HunkState[] }
  | { kind: 'usage'; turn: number; inputTokens: number; outputTokens: number; totalTokens: number }
  | { kind: 'error'; message: string; willRetry: boolean }
  | { kind: 'finished'; status: TaskStatus; summary?: string }
  | ({ kind: 'attempt' } & AttemptInfo)
  | { kind: 'attemptChosen'; attempt: number; automatic?: boolean };

export interface TaskUpdateParams {
  taskId: string;
  seq: number;
  update: TaskUpdate;
}

export interface GetTaskResult extends TaskSummary {
  events: TaskUpdateParams[];
  attempts?: AttemptInfo[];
  chosenAttempt?: number;
}

export interface ImportDiffParams {
  diff?: string;
  path?: string;
  url?: string;
  gitRef?: string;
}

export type ApprovalDecision = 'allow' | 'allowForTask' | 'deny' | 'cancel';

export interface RequestApprovalParams {
  taskId: string;
  callId: string;
  kind: 'command' | 'patch' | 'network';
  command?: string | string[];
  cwd?: string;
  diff?: string;
  reason?: string;
}

export const method = {
  startTask: 'agent/startTask',
  cancelTask: 'agent/cancelTask',
  listTasks: 'agent/listTasks',
  getTask: 'agent/getTask',
  getProposal: 'agent/getProposal',
  resolveHunks: 'agent/resolveHunks',
  importDiff: 'agent/importDiff',
  refreshProposal: 'agent/refreshProposal',
  undoHunks: 'agent/undoHunks',
  followUp: 'agent/followUp',
  forkTask: 'agent/forkTask',
  deleteTask: 'agent/deleteTask',
  listAgents: 'agent/listAgents',
  chooseAttempt: 'agent/chooseAttempt',
  importAttempts: 'agent/importAttempts',
  taskUpdate: 'agent/taskUpdate',
  requestApproval: 'agent/requestApproval',
} as const;

export function isFinished(status: TaskStatus): boolean {
  return status !== 'queued' && status !== 'running';
}
