/**
 * Reflex SDK for flow authors: `import { flow, task, concurrency, getRunLogger } from 'reflex/sdk'`.
 * docs/sdk.md is the reference.
 */
export { flow, isFlow, type Flow, type FlowOptions, type FlowOptionsWithParameters } from './flow.ts';
export { task, type Task, type TaskOptions, type MapInputs } from './task.ts';
export { TaskFuture, MappedFutures } from './futures.ts';
export { concurrency, type Concurrency, type ConcurrencyLease, type ConcurrencyOptions } from './concurrency.ts';
export { emitEvent, closeEvents, type EmitOptions } from './events.ts';
export { getRunContext, getRunLogger, type RunInfo } from './run.ts';
export { CancelledError, NonRetriableError, ParameterValidationError, RunTimeoutError, SdkUsageError } from './errors.ts';
export { ConcurrencySlotTimeoutError } from '../modules/runs/index.ts';
export type { Logger } from './logger.ts';
// ---- flow authors (issue 13): state hooks, artifacts, pause/resume, waitForEvent, serve ----
export type { FlowHook, TaskHook, FlowHooks, TaskHooks, HookFlowRun, HookTaskRun } from './hooks.ts';
export {
  createTableArtifact,
  createMarkdownArtifact,
  createLinkArtifact,
  createProgressArtifact,
  updateProgressArtifact,
  type ArtifactOptions,
  type TableArtifactOptions,
  type MarkdownArtifactOptions,
  type LinkArtifactOptions,
  type ProgressArtifactOptions,
} from './artifacts.ts';
export { pauseFlowRun, suspendFlowRun, type PauseOptions, type ResumeInput } from './pause.ts';
export { waitForEvent, type EventWaitSpec, type EventWaitOptions } from './wait-for-event.ts';
export type { ServeOptions, ServeHandle } from './serve.ts';
// Secrets and variables (issue 13).
export { getSecret, getVariable, setVariable } from './secrets.ts';
export { SecretAccessDeniedError } from '../modules/secrets/index.ts';
