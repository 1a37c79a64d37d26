/**
 * Retry timing, pure so it is unit-tested without a clock: the delay before retry number `retry`
 * (1 = the first retry) from `retryDelaySeconds` (a number, or a list indexed by retry whose last entry
 * repeats) spread by `retryJitterFactor`.
 */
export interface RetryPolicy {
  retries: number;
  retryDelaySeconds: number | readonly number[];
  retryJitterFactor: number | undefined;
}

/**
 * Jitter spreads the delay uniformly over [delay × (1 − factor), delay × (1 + factor)] (clamped at 0),
 * so many runs failing together do not retry together. `random` is Math.random unless a test passes one.
 */
export function retryDelayMs(policy: Pick<RetryPolicy, 'retryDelaySeconds' | 'retryJitterFactor'>, retry: number, random: () => number = Math.random): number {
  const delays = policy.retryDelaySeconds;
  const base = typeof delays === 'number' ? delays : delays.length === 0 ? 0 : delays[Math.min(Math.max(retry, 1), delays.length) - 1];
  const factor = policy.retryJitterFactor ?? 0;
  const seconds = factor > 0 ? base * (1 + factor * (2 * random() - 1)) : base;
  return Math.max(0, Math.round(seconds * 1000));
}

/** True when a run that just finished attempt `attempt` (1-based) may run again. */
export function canRetry(policy: Pick<RetryPolicy, 'retries'>, attempt: number): boolean {
  return attempt <= policy.retries;
}
