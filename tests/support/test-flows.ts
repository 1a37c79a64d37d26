import { z } from 'zod';
import { CancelledError, concurrency, emitEvent, flow, getRunContext, getRunLogger, NonRetriableError, task } from 'reflex/sdk';

/**
 * Flows used by the flow and worker tests. Loaded by the in-process worker (REFLEX_FLOWS) and by worker
 * child processes; the test process imports the same module instance, so the probes below are shared.
 */

/** What tests observe from inside flows running in this process. */
export const probes = {
  attempts: new Map<string, number[]>(),
  aborted: new Set<string>(),
  running: 0,
  maxRunning: 0,
  holders: [] as Array<{ who: string; start: number; end: number }>,
  taskCalls: new Map<string, number>(),
};

function countCall(name: string): number {
  const n = (probes.taskCalls.get(name) ?? 0) + 1;
  probes.taskCalls.set(name, n);
  return n;
}

function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    const t = setTimeout(resolve, ms);
    signal?.addEventListener('abort', () => {
      clearTimeout(t);
      reject(signal.reason);
    }, { once: true });
  });
}

export const noop = flow({ name: 'noop' }, async (params: { value?: unknown } = {}) => params.value ?? null);

/** Fails its first `fail_times` attempts (per `key`), recording when each attempt started. */
export const flaky = flow(
  { name: 'flaky', retries: 2, retryDelaySeconds: [0.3, 0.6] },
  async (params: { key: string; fail_times: number }) => {
    const times = probes.attempts.get(params.key) ?? [];
    times.push(Date.now());
    probes.attempts.set(params.key, times);
    if (times.length <= params.fail_times) throw new Error(`attempt ${times.length} fails on purpose`);
    return { attempts: times.length };
  },
);

export const fatal = flow({ name: 'fatal', retries: 3, retryDelaySeconds: 0.1 }, async (params: { key: string }) => {
  probes.attempts.set(params.key, [...(probes.attempts.get(params.key) ?? []), Date.now()]);
  throw new NonRetriableError('no point retrying');
});

export const tooSlow = flow({ name: 'too-slow', timeoutSeconds: 0.3 }, async (params: { key: string }) => {
  const { signal } = getRunContext();
  try {
    await sleep(5000, signal);
  } catch (err) {
    probes.aborted.add(params.key);
    throw err;
  }
});

/** Sleeps `ms`, honouring its AbortSignal; counts how many run at once. */
export const slow = flow({ name: 'slow' }, async (params: { key: string; ms: number }) => {
  const { signal } = getRunContext();
  probes.running += 1;
  probes.maxRunning = Math.max(probes.maxRunning, probes.running);
  getRunLogger().info({ key: params.key }, 'slow flow started');
  try {
    await sleep(params.ms, signal);
    return { slept: params.ms };
  } catch (err) {
    if (err instanceof CancelledError) probes.aborted.add(params.key);
    throw err;
  } finally {
    probes.running -= 1;
  }
});

/** First attempt hangs (the test kills its worker); the retry completes. */
export const crashy = flow({ name: 'crashy', retries: 1, retryDelaySeconds: 0 }, async () => {
  const { flowRun, signal } = getRunContext();
  if ((flowRun?.runCount ?? 1) === 1) await sleep(60_000, signal);
  return { attempt: flowRun?.runCount };
});

export const double = task({ name: 'double' }, async (x: number) => {
  countCall('double');
  return x * 2;
});

export const add = task({ name: 'add' }, async (a: number, b: number) => a + b);

export const cachedSquare = task({ name: 'cached-square', cacheKey: 'inputs', cacheExpirationSeconds: 1 }, async (x: number) => {
  countCall('cached-square');
  return { square: x * x };
});

export const keyedCache = task({ name: 'keyed-cache', cacheKey: (user: { id: string; seen: number }) => user.id }, async (user: { id: string; seen: number }) => {
  countCall('keyed-cache');
  return user.seen;
});

export const flakyTask = task({ name: 'flaky-task', retries: 2, retryDelaySeconds: 0.2 }, async (key: string) => {
  const n = countCall(`flaky-task:${key}`);
  if (n < 3) throw new Error(`task attempt ${n} fails`);
  return n;
});

export const slowTask = task({ name: 'slow-task', timeoutSeconds: 0.2 }, async () => {
  await sleep(2000, getRunContext().signal);
});

export const fanOut = flow({ name: 'fan-out' }, async (params: { values: number[] }) => {
  const doubled = await double.map(params.values);
  const sum = await add.submit(doubled[0] ?? 0, doubled[1] ?? 0);
  const futures = [add.submit(1, 2), add.submit(3, 4)];
  const more = await Promise.all(futures.map((f) => f.result()));
  return { doubled, sum, more };
});

export const child = flow({ name: 'child' }, async (n: number) => {
  getRunLogger().info({ n }, 'child running');
  return n + 1;
});

export const childInTask = task({ name: 'child-in-task' }, async (n: number) => child(n));

export const parent = flow({ name: 'parent' }, async () => {
  getRunLogger().info({ step: 1 }, 'parent says hello');
  const a = await child(1);
  const b = await childInTask(10);
  return { a, b };
});

export const cacheFlow = flow({ name: 'cache-flow' }, async (params: { x: number; user: string; seen: number }) => {
  const first = await cachedSquare(params.x);
  const second = await cachedSquare(params.x);
  const keyed = await keyedCache({ id: params.user, seen: params.seen });
  return { first, second, keyed };
});

export const taskRetries = flow({ name: 'task-retries' }, async (params: { key: string }) => {
  const n = await flakyTask(params.key);
  let timedOut = false;
  try {
    await slowTask();
  } catch (err) {
    timedOut = err instanceof Error && err.name === 'RunTimeoutError';
  }
  return { n, timedOut };
});

/** Holds the global limit `slot-test` while it sleeps; records when it held it. */
export const limited = flow({ name: 'limited' }, async (params: { who: string; ms: number }) => {
  return concurrency('slot-test', 1, async () => {
    const start = Date.now();
    await sleep(params.ms);
    probes.holders.push({ who: params.who, start, end: Date.now() });
    return params.who;
  });
});

export const typedParams = flow(
  { name: 'typed-params', parameters: z.object({ n: z.number().int(), label: z.string().default('x') }) },
  async ({ n, label }) => `${label}${n}`,
);

export const emitInTask = task({ name: 'emit-in-task' }, async (n: number) => {
  await emitEvent({ event: 'test.emitted', resource: { 'reflex.resource.id': `test.thing.${n}` }, payload: { n } });
});

export const emitting = flow({ name: 'emitting' }, async () => {
  await emitEvent({ event: 'test.emitted', resource: { 'reflex.resource.id': 'test.thing.flow' } });
  await emitInTask(1);
});

/** Gates by key: a `gated` run waits until the test opens its gate with openGate. */
const gates = new Map<string, { opened: Promise<void>; open: () => void }>();

function gate(key: string): { opened: Promise<void>; open: () => void } {
  let g = gates.get(key);
  if (!g) {
    let open!: () => void;
    const opened = new Promise<void>((resolve) => (open = resolve));
    g = { opened, open };
    gates.set(key, g);
  }
  return g;
}

export function openGate(key: string): void {
  gate(key).open();
}

/** Stays RUNNING until the test opens the gate `key` (or the run is cancelled). */
export const gated = flow({ name: 'gated' }, async (params: { key: string }) => {
  const { signal } = getRunContext();
  signal.throwIfAborted();
  const aborted = new Promise<never>((_, reject) => signal.addEventListener('abort', () => reject(signal.reason), { once: true }));
  await Promise.race([gate(params.key).opened, aborted]);
  return { key: params.key };
});

/** Run control (issue 15): how many `keyed` runs of each key run at once, and the most seen. */
export const keyedProbe = { running: new Map<string, number>(), max: new Map<string, number>(), started: [] as string[] };

/** Holds its key for `ms` (or until cancelled), recording per-key concurrency in keyedProbe. */
export const keyed = flow({ name: 'keyed' }, async (params: { customer: string; ms: number; tag?: string }) => {
  const { signal } = getRunContext();
  const now = (keyedProbe.running.get(params.customer) ?? 0) + 1;
  keyedProbe.running.set(params.customer, now);
  keyedProbe.max.set(params.customer, Math.max(now, keyedProbe.max.get(params.customer) ?? 0));
  keyedProbe.started.push(params.tag ?? params.customer);
  try {
    await sleep(params.ms, signal);
  } finally {
    keyedProbe.running.set(params.customer, (keyedProbe.running.get(params.customer) ?? 1) - 1);
  }
  return params.customer;
});
