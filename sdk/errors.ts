/**
 * Errors flow and task authors throw or catch. They are control flow, not failures of Reflex itself:
 * the runner maps each to a run outcome (see docs/sdk.md, "Errors").
 */

/** Fails the flow or task at once, skipping any retries left. */
export class NonRetriableError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'NonRetriableError';
  }
}

/**
 * The run was asked to stop (cancellation requested through the API or an automation, or its parent
 * was cancelled). It is the `reason` of the AbortSignal handed to flow code, so `signal.throwIfAborted()`
 * throws it; a flow or task that ends with it is marked CANCELLED.
 */
export class CancelledError extends Error {
  constructor(message = 'the run was cancelled') {
    super(message);
    this.name = 'CancelledError';
  }
}

/** The flow or task ran longer than its `timeoutSeconds`; the run fails (and is retried if it has retries). */
export class RunTimeoutError extends Error {
  readonly timeoutSeconds: number;
  constructor(what: string, timeoutSeconds: number) {
    super(`${what} timed out after ${timeoutSeconds} s`);
    this.name = 'RunTimeoutError';
    this.timeoutSeconds = timeoutSeconds;
  }
}

/** A flow or task was declared or called the wrong way; the message says how to fix the call. */
export class SdkUsageError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'SdkUsageError';
  }
}

/** Parameters did not match the flow's `parameters` schema; never retried. */
export class ParameterValidationError extends NonRetriableError {
  readonly issues: Array<{ path: string; message: string }>;
  constructor(flowName: string, issues: Array<{ path: string; message: string }>) {
    super(`invalid parameters for flow "${flowName}": ${issues.map((i) => `${i.path || '(root)'}: ${i.message}`).join('; ')}`);
    this.name = 'ParameterValidationError';
    this.issues = issues;
  }
}

/** A short, single-line description of anything thrown, for a state message. */
export function errorMessage(err: unknown): string {
  if (err instanceof Error) return `${err.name === 'Error' ? '' : `${err.name}: `}${err.message}`.slice(0, 2000);
  return String(err).slice(0, 2000);
}
