import { describeIssues, ReflexError, type FieldIssue } from '../core/errors.ts';
import { storableText } from '../core/text.ts';

/**
 * Errors flow and task authors throw or catch. They are control flow, not failures of Reflex itself:
 * the runner maps each to a run outcome (see docs/sdk.md, "Errors"). Each is a ReflexError with a stable
 * code (docs/errors.md), so a run's stored error names it.
 */

/** Fails the flow or task at once, skipping any retries left. */
export class NonRetriableError extends ReflexError {
  constructor(message: string, options: { cause?: unknown; code?: 'non_retriable' | 'parameters_invalid'; issues?: FieldIssue[] } = {}) {
    super(options.code ?? 'non_retriable', message, options);
  }
}

/**
 * The run was asked to stop (cancellation requested through the API or an automation, or its parent
 * was cancelled). It is the `reason` of the AbortSignal handed to flow code, so `signal.throwIfAborted()`
 * throws it; a flow or task that ends with it is marked CANCELLED.
 */
export class CancelledError extends ReflexError {
  constructor(message = 'the run was cancelled') {
    super('run_cancelled', message);
  }
}

/** The flow or task ran longer than its `timeoutSeconds`; the run fails (and is retried if it has retries). */
export class RunTimeoutError extends ReflexError {
  readonly timeoutSeconds: number;
  constructor(what: string, timeoutSeconds: number) {
    super('run_timeout', `${what} timed out after ${timeoutSeconds} s`);
    this.timeoutSeconds = timeoutSeconds;
  }
}

/** A flow or task was declared or called the wrong way; the message says how to fix the call. */
export class SdkUsageError extends ReflexError {
  constructor(message: string) {
    super('sdk_usage', message);
  }
}

/** Parameters did not match the flow's `parameters` schema; never retried. */
export class ParameterValidationError extends NonRetriableError {
  constructor(flowName: string, issues: FieldIssue[]) {
    super(`invalid parameters for flow "${flowName}": ${describeIssues(issues)}`, { code: 'parameters_invalid', issues });
  }
}

/** A short, single-line description of anything thrown, for a state message (storable whatever it holds). */
export function errorMessage(err: unknown): string {
  if (err instanceof Error) return storableText(`${err.name === 'Error' ? '' : `${err.name}: `}${err.message}`.slice(0, 2000));
  return storableText(String(err).slice(0, 2000));
}
