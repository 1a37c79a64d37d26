/**
 * The waits module: what paused, suspended and event-waiting flow runs wait for (flow authors, issue 13).
 * It owns the table `flow_run_waits` (migrations/0351). A module of its own: a wait is resolved by the API,
 * a worker's sweep and the flow itself, none of which needs the run writer's batching.
 * Services and the SDK use only what this file exports.
 */
export { Waits, resumedSuspensionSql, type FlowRunWait, type WaitKind, type WaitOutcome } from './store.ts';
