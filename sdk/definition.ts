import type { z } from 'zod';
import { SdkUsageError } from './errors.ts';
import type { RetryPolicy } from './retry.ts';

/** Options shared by flows and tasks (docs/sdk.md lists each with its default). */
export interface RunOptions {
  /** Registered name; defaults to the function's name. Letters, digits, `_`, `-`, `.`. */
  name?: string;
  description?: string;
  /** How many times a failed run is retried (default 0). */
  retries?: number;
  /** Seconds before each retry: one number, or a list for backoff (the last entry repeats). Default 0. */
  retryDelaySeconds?: number | readonly number[];
  /** Spreads each delay uniformly over delay × (1 ± factor). Default none. */
  retryJitterFactor?: number;
  /** Fails the attempt when it runs longer (its signal is aborted). Default none. */
  timeoutSeconds?: number;
  tags?: readonly string[];
}

export interface ResolvedOptions extends RetryPolicy {
  name: string;
  description: string | null;
  timeoutSeconds: number | undefined;
  tags: string[];
}

const NAME = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,127}$/;

/** Checks declaration options once, so a mistake fails at import time with what to change. */
export function resolveOptions(kind: 'flow' | 'task', options: RunOptions, fn: { name: string }): ResolvedOptions {
  const name = options.name ?? fn.name;
  const where = `${kind}(${name ? `"${name}"` : '…'})`;
  if (!name) throw new SdkUsageError(`${kind}(): give the ${kind} a name: ${kind}({ name: 'my-${kind}' }, async (...) => ...)`);
  if (!NAME.test(name)) throw new SdkUsageError(`${where}: name must be letters, digits, "_", "-" or "." (at most 128), starting with a letter or digit`);
  const retries = options.retries ?? 0;
  if (!Number.isInteger(retries) || retries < 0) throw new SdkUsageError(`${where}: retries must be a whole number >= 0, got ${retries}`);
  const delays = options.retryDelaySeconds ?? 0;
  const list = typeof delays === 'number' ? [delays] : delays;
  if (!Array.isArray(list) || list.some((d) => typeof d !== 'number' || !Number.isFinite(d) || d < 0)) {
    throw new SdkUsageError(`${where}: retryDelaySeconds must be a number >= 0 or a list of them`);
  }
  const jitter = options.retryJitterFactor;
  if (jitter !== undefined && (!Number.isFinite(jitter) || jitter < 0)) throw new SdkUsageError(`${where}: retryJitterFactor must be >= 0, got ${jitter}`);
  const timeout = options.timeoutSeconds;
  if (timeout !== undefined && (!Number.isFinite(timeout) || timeout <= 0)) throw new SdkUsageError(`${where}: timeoutSeconds must be > 0, got ${timeout}`);
  return {
    name,
    description: options.description ?? null,
    retries,
    retryDelaySeconds: typeof delays === 'number' ? delays : [...delays],
    retryJitterFactor: jitter,
    timeoutSeconds: timeout,
    tags: [...(options.tags ?? [])],
  };
}

/** A flow's parameters schema (zod) or none. */
export type ParametersSchema = z.ZodType;
