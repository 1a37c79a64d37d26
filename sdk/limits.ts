import { setMaxListeners } from 'node:events';
import { CancelledError, RunTimeoutError } from './errors.ts';

/**
 * One attempt of a flow or task body, bounded by its timeout and by cancellation. The body gets an
 * AbortSignal that fires on either; the attempt settles at once when it fires, even if the body ignores
 * the signal (JavaScript cannot stop a promise: such a body keeps running in the background, unrecorded).
 */

export type AttemptOutcome<R> =
  | { ok: true; value: R }
  | { ok: false; error: unknown; kind: 'error' | 'timeout' | 'cancelled' };

export async function runWithLimits<R>(
  body: (signal: AbortSignal) => Promise<R>,
  options: { signal: AbortSignal | undefined; timeoutSeconds: number | undefined; what: string },
): Promise<AttemptOutcome<R>> {
  const outer = options.signal;
  if (outer?.aborted) return { ok: false, error: asCancelled(outer.reason), kind: 'cancelled' };
  const controller = new AbortController();
  // Every task of a fan-out listens to its flow's signal at once; thousands is expected, not a leak.
  setMaxListeners(0, controller.signal);
  const onOuter = () => controller.abort(asCancelled(outer?.reason));
  outer?.addEventListener('abort', onOuter, { once: true });
  let timer: NodeJS.Timeout | undefined;
  const limited = new Promise<AttemptOutcome<R>>((resolve) => {
    controller.signal.addEventListener('abort', () => resolve(failure(controller.signal.reason)), { once: true });
    if (options.timeoutSeconds !== undefined && options.timeoutSeconds > 0) {
      const seconds = options.timeoutSeconds;
      timer = setTimeout(() => controller.abort(new RunTimeoutError(options.what, seconds)), Math.round(seconds * 1000));
    }
  });
  try {
    const ran = Promise.resolve()
      .then(() => body(controller.signal))
      .then(
        (value): AttemptOutcome<R> => ({ ok: true, value }),
        (error: unknown): AttemptOutcome<R> => failure(controller.signal.aborted ? controller.signal.reason : error, error),
      );
    return await Promise.race([ran, limited]);
  } finally {
    clearTimeout(timer);
    outer?.removeEventListener('abort', onOuter);
  }
}

function failure<R>(reason: unknown, thrown: unknown = reason): AttemptOutcome<R> {
  if (reason instanceof CancelledError) return { ok: false, error: reason, kind: 'cancelled' };
  if (reason instanceof RunTimeoutError) return { ok: false, error: reason, kind: 'timeout' };
  return { ok: false, error: thrown, kind: 'error' };
}

function asCancelled(reason: unknown): CancelledError {
  return reason instanceof CancelledError ? reason : new CancelledError(reason instanceof Error ? reason.message : 'the run was cancelled');
}

/** Waits `ms`, or rejects with a CancelledError as soon as `signal` aborts. */
export function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) return reject(asCancelled(signal.reason));
    const onAbort = () => {
      clearTimeout(t);
      reject(asCancelled(signal?.reason));
    };
    const t = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    }, Math.max(0, ms));
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}

/** Waits until every promise in the set, including ones added while waiting, has settled. */
export async function settleAll(set: Set<Promise<unknown>>): Promise<void> {
  while (set.size > 0) await Promise.allSettled([...set]);
}

export const NEVER_ABORTED: AbortSignal = new AbortController().signal;
