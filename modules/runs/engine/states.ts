import { DEFAULT_STATE_NAMES, TERMINAL_STATES, type State, type StateInput, type StateType } from '../../../schemas/flow-run.ts';

/**
 * THE transition rules for flow runs and task runs: every state change anywhere in Reflex goes through
 * `decideTransition`. Pure (the clock is an argument), so the whole table is tested without a database.
 */

export type RunKind = 'flow' | 'task';

/** Named variants of a state type, as Prefect users know them. */
export const StateNames = {
  Scheduled: 'Scheduled',
  Late: 'Late',
  AwaitingRetry: 'AwaitingRetry',
  Running: 'Running',
  Retrying: 'Retrying',
  // flow authors (issue 13): a paused run waiting in its process, one that gave its slot back, and the resume.
  Paused: 'Paused',
  Suspended: 'Suspended',
  Resumed: 'Resumed',
} as const;

/** A state name becomes an event-name token (`reflex.flow-run.<name>`), so it must be one. */
export const STATE_NAME_PATTERN = /^[A-Za-z][A-Za-z0-9_-]{0,63}$/;

/**
 * Which types a run may move to from each type. Terminal types allow nothing, except the retry path
 * (FAILED or CRASHED -> SCHEDULED named AwaitingRetry), which `decideTransition` handles by name.
 */
export const ALLOWED_TRANSITIONS: Readonly<Record<StateType, readonly StateType[]>> = {
  SCHEDULED: ['SCHEDULED', 'PENDING', 'RUNNING', 'PAUSED', 'CANCELLED', 'CRASHED', 'FAILED'],
  PENDING: ['SCHEDULED', 'RUNNING', 'PAUSED', 'CANCELLING', 'CANCELLED', 'CRASHED', 'FAILED'],
  RUNNING: ['SCHEDULED', 'COMPLETED', 'FAILED', 'CRASHED', 'PAUSED', 'CANCELLING', 'CANCELLED'],
  PAUSED: ['SCHEDULED', 'PENDING', 'RUNNING', 'CANCELLING', 'CANCELLED', 'CRASHED', 'FAILED'],
  // A flow may finish before it notices the cancellation; its real outcome is kept.
  CANCELLING: ['CANCELLED', 'COMPLETED', 'FAILED', 'CRASHED'],
  COMPLETED: [],
  FAILED: [],
  CANCELLED: [],
  CRASHED: [],
};

/** The run fields a transition reads and changes. */
export interface RunTiming {
  state: State | null;
  run_count: number;
  start_time: string | null;
  end_time: string | null;
  total_run_time_seconds: number;
}

export type TransitionDecision =
  | { accepted: true; state: State; timing: RunTiming }
  | { accepted: false; reason: string };

/**
 * Decides whether a run in `current.state` may move to `proposed`, and computes the new state and timing
 * fields. `force` skips the rules (API set-state with force, crash detection) but still validates names.
 */
export function decideTransition(
  kind: RunKind,
  current: RunTiming,
  proposed: StateInput,
  options: { now: Date; force?: boolean },
): TransitionDecision {
  const what = kind === 'flow' ? 'flow run' : 'task run';
  const name = proposed.name ?? defaultName(proposed.type, current);
  if (!STATE_NAME_PATTERN.test(name)) {
    return { accepted: false, reason: `invalid state name "${name}": use letters, digits, "_" or "-", starting with a letter` };
  }
  if (name === StateNames.Late || name === StateNames.AwaitingRetry) {
    if (proposed.type !== 'SCHEDULED') return { accepted: false, reason: `state name ${name} is only valid for type SCHEDULED` };
  }
  if (name === StateNames.Retrying && proposed.type !== 'RUNNING') {
    return { accepted: false, reason: 'state name Retrying is only valid for type RUNNING' };
  }
  const from = current.state;
  if (from && !options.force) {
    const refusal = refusalReason(from, proposed.type, name);
    if (refusal) return { accepted: false, reason: `cannot move ${what} from ${describe(from)} to ${proposed.type}${proposed.name && proposed.name !== DEFAULT_STATE_NAMES[proposed.type] ? `/${proposed.name}` : ''}: ${refusal}` };
  }
  const now = options.now.toISOString();
  const state: State = {
    type: proposed.type,
    name,
    timestamp: now,
    message: proposed.message ?? null,
    scheduled_time: proposed.type === 'SCHEDULED' ? (proposed.scheduled_time ? new Date(proposed.scheduled_time).toISOString() : now) : null,
    error: proposed.error ?? null,
  };
  return { accepted: true, state, timing: nextTiming(current, state, options.now) };
}

function refusalReason(from: State, to: StateType, name: string): string | null {
  if (name === StateNames.AwaitingRetry && (from.type === 'FAILED' || from.type === 'CRASHED' || from.type === 'RUNNING')) return null;
  if (TERMINAL_STATES.has(from.type)) return 'the run is finished';
  if (name === StateNames.Late) {
    if (from.type !== 'SCHEDULED') return 'only a SCHEDULED run can be Late';
    if (from.name === StateNames.Late) return 'the run is already Late';
    return null;
  }
  if (from.type === to && to !== 'SCHEDULED') return `the run is already ${to}`;
  if (to === 'SCHEDULED' && from.type === 'RUNNING') return 'a running run can only be rescheduled as AwaitingRetry';
  if (!ALLOWED_TRANSITIONS[from.type].includes(to)) {
    const allowed = ALLOWED_TRANSITIONS[from.type];
    return `allowed from ${from.type}: ${allowed.join(', ')}`;
  }
  return null;
}

/** RUNNING is named Retrying when the run has run before (Prefect's convention). */
function defaultName(type: StateType, current: RunTiming): string {
  if (type === 'RUNNING' && current.run_count > 0) return StateNames.Retrying;
  return DEFAULT_STATE_NAMES[type];
}

function describe(state: State): string {
  return state.name === DEFAULT_STATE_NAMES[state.type] ? state.type : `${state.type}/${state.name}`;
}

function nextTiming(current: RunTiming, next: State, now: Date): RunTiming {
  const timing: RunTiming = { ...current, state: next };
  const leavingRunning = current.state?.type === 'RUNNING' && next.type !== 'RUNNING';
  if (leavingRunning && current.state) {
    timing.total_run_time_seconds += Math.max(0, (now.getTime() - Date.parse(current.state.timestamp)) / 1000);
  }
  if (next.type === 'RUNNING') {
    // Resuming a paused run continues the same attempt; only a new attempt counts.
    if (current.state?.type !== 'PAUSED') timing.run_count += 1;
    timing.start_time ??= now.toISOString();
    timing.end_time = null;
  }
  if (TERMINAL_STATES.has(next.type)) timing.end_time = now.toISOString();
  if (next.type === 'SCHEDULED') timing.end_time = null;
  return timing;
}

/** The event name published for a state: `reflex.flow-run.Completed`, `reflex.task-run.Retrying`. */
export function stateEventName(kind: RunKind, state: Pick<State, 'name'>): string {
  return `reflex.${kind === 'flow' ? 'flow-run' : 'task-run'}.${state.name}`;
}

export function isTerminal(type: StateType): boolean {
  return TERMINAL_STATES.has(type);
}
