import { acquireSlot, type Lease } from '../modules/runs/index.ts';
import { resolveClient } from './client.ts';
import { runContext } from './context.ts';

/**
 * Global concurrency limits by name, shared by every process of the namespace (slots leased in Redis;
 * the limit itself is set with the API or `reflex concurrency-limit`). A name with no limit set is
 * unlimited. A holder that dies stops renewing its lease and its slot frees itself after `leaseSeconds`.
 */

export interface ConcurrencyOptions {
  /** Slots taken (default 1). */
  occupy?: number;
  /** Give up with ConcurrencySlotTimeoutError after this long (default: wait as long as it takes). */
  timeoutSeconds?: number;
  /** Lease length; renewed every third of it while held (default 30). */
  leaseSeconds?: number;
}

/** A held slot; call `release()` when done (in a `finally`). */
export interface ConcurrencyLease {
  readonly name: string;
  /** False when the name has no limit (or the engine is unreachable): nothing is held. */
  readonly limited: boolean;
  release(): Promise<void>;
}

let warnedUnreachable = false;

async function acquire(name: string, options: ConcurrencyOptions = {}): Promise<ConcurrencyLease> {
  const ctx = runContext.getStore();
  const client = ctx ? ctx.client : await resolveClient();
  if (!client) {
    if (!warnedUnreachable) process.stderr.write(`reflex: concurrency("${name}") runs unguarded: the engine is unreachable\n`);
    warnedUnreachable = true;
    return { name, limited: false, release: async () => {} };
  }
  const hold = client.hold();
  let lease: Lease;
  try {
    lease = await acquireSlot(client.redis, client.names, name, {
      occupy: options.occupy,
      leaseSeconds: options.leaseSeconds,
      timeoutMs: options.timeoutSeconds === undefined ? undefined : Math.round(options.timeoutSeconds * 1000),
      signal: ctx?.signal,
    });
  } catch (err) {
    hold();
    throw err;
  }
  return {
    name,
    limited: lease.limited,
    async release() {
      try {
        await lease.release();
      } finally {
        hold();
      }
    },
  };
}

export interface Concurrency {
  /** Runs `fn` while holding slots of the named limit. */
  <T>(name: string, fn: () => Promise<T>): Promise<T>;
  <T>(name: string, occupy: number | ConcurrencyOptions, fn: () => Promise<T>): Promise<T>;
  /** Takes slots and hands back the lease, for code that cannot be wrapped in a callback. */
  acquire(name: string, options?: ConcurrencyOptions): Promise<ConcurrencyLease>;
}

async function withSlots<T>(name: string, occupyOrFn: number | ConcurrencyOptions | (() => Promise<T>), maybeFn?: () => Promise<T>): Promise<T> {
  const fn = typeof occupyOrFn === 'function' ? occupyOrFn : maybeFn;
  if (typeof fn !== 'function') throw new TypeError(`concurrency("${name}", ...): the last argument must be an async function`);
  const options: ConcurrencyOptions = typeof occupyOrFn === 'number' ? { occupy: occupyOrFn } : typeof occupyOrFn === 'object' ? occupyOrFn : {};
  const lease = await acquire(name, options);
  try {
    return await fn();
  } finally {
    await lease.release();
  }
}

export const concurrency: Concurrency = Object.assign(withSlots, { acquire });
