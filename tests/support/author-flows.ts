import { randomUUID } from 'node:crypto';
import {
  CancelledError,
  createLinkArtifact,
  createMarkdownArtifact,
  createProgressArtifact,
  createTableArtifact,
  flow,
  getRunContext,
  NonRetriableError,
  pauseFlowRun,
  suspendFlowRun,
  task,
  updateProgressArtifact,
  waitForEvent,
  type HookFlowRun,
  type HookTaskRun,
} from 'reflex/sdk';
import { z } from 'zod';
import type { State } from '../../schemas/flow-run.ts';

/**
 * Flows of the flow-author tests (state hooks, artifacts, pause/resume, waitForEvent). Loaded by the
 * in-process worker and by worker child processes; the test process imports the same module instance,
 * so `seen` is shared with the in-process worker.
 */

export interface HookCall {
  hook: string;
  run: HookFlowRun | HookTaskRun;
  state: State;
}

export const seen = { hooks: [] as HookCall[] };

const record = (hook: string) => (run: HookFlowRun | HookTaskRun, state: State) => {
  seen.hooks.push({ hook, run, state });
};

function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    const t = setTimeout(resolve, ms);
    signal?.addEventListener('abort', () => {
      clearTimeout(t);
      reject(signal.reason);
    }, { once: true });
  });
}

const hookedTask = task({ name: 'hooked-task', onCompletion: record('task.onCompletion'), onFailure: record('task.onFailure') }, async (x: number) => {
  if (x < 0) throw new NonRetriableError('negative');
  return x * 2;
});

/** Every flow hook; `mode` picks the outcome. */
export const hooked = flow(
  {
    name: 'hooked',
    onRunning: record('onRunning'),
    onCompletion: [record('onCompletion'), () => { throw new Error('hook exploded on purpose'); }],
    onFailure: [() => Promise.reject(new Error('failure hook exploded')), record('onFailure')],
    onCancellation: record('onCancellation'),
  },
  async (params: { mode: 'ok' | 'fail' | 'task-fail' | 'cancel' }) => {
    if (params.mode === 'fail') throw new NonRetriableError('fails on purpose');
    if (params.mode === 'task-fail') return hookedTask(-1);
    if (params.mode === 'cancel') throw new CancelledError('cancelled on purpose');
    return hookedTask(21);
  },
);

/** Sleeps on its first attempt (so a test can SIGKILL its worker); its onCrashed hook is recorded. */
export const crashHooked = flow(
  { name: 'crash-hooked', onCrashed: record('onCrashed') },
  async () => {
    await sleep(60_000, getRunContext().signal);
    return 'never';
  },
);

const reportTask = task({ name: 'report-task' }, async (n: number) =>
  createMarkdownArtifact({ markdown: `# Task report ${n}`, description: 'made inside a task' }),
);

/** Makes one artifact of each kind; the keyed table gets a new version per run. */
export const reporter = flow({ name: 'reporter' }, async (params: { version: number }) => {
  const progress = await createProgressArtifact({ progress: 0, description: 'loading' });
  const rows = await createTableArtifact({ key: 'orders-by-region', table: [{ region: 'eu', total: params.version }, { region: 'us', total: 2 }] });
  const columns = await createTableArtifact({ table: { region: ['eu', 'us'], total: [1, 2] } });
  await updateProgressArtifact(progress, 50);
  const link = await createLinkArtifact({ link: 'https://example.com/report', linkText: 'the report' });
  const markdown = await reportTask(params.version);
  await updateProgressArtifact(progress, 100);
  return { progress, rows, columns, link, markdown };
});

export const calls = { prepare: new Map<string, number>() };

const prepare = task({ name: 'prepare' }, async (key: string) => {
  calls.prepare.set(key, (calls.prepare.get(key) ?? 0) + 1);
  return { prepared: key };
});

const Approval = z.object({ approved: z.boolean(), note: z.string().default('') });

/** Prepares, then pauses for an approval (in its process), then returns what it was given. */
export const approval = flow({ name: 'approval' }, async (params: { key: string; timeout: number }) => {
  const prepared = await prepare(params.key);
  const input = await pauseFlowRun({ timeoutSeconds: params.timeout, input: Approval });
  return { prepared, input };
});

/** Same, but suspends: the worker slot is given back and the run starts again from the top on resume. */
export const suspender = flow({ name: 'suspender' }, async (params: { key: string; timeout: number }) => {
  const prepared = await prepare(params.key);
  const input = await suspendFlowRun({ timeoutSeconds: params.timeout, input: Approval });
  const again = await prepare(`${params.key}-after`);
  return { prepared, input, again };
});

/** Waits for `order.shipped` of one order (optionally with an amount over `min`). */
export const shipmentWaiter = flow({ name: 'shipment-waiter' }, async (params: { order: string; timeout: number; lookback?: number; min?: number }) => {
  const event = await waitForEvent(
    { event: 'order.shipped', match: { 'reflex.resource.id': `order.${params.order}` }, condition: params.min === undefined ? undefined : { '>': [{ var: 'event.payload.amount' }, params.min] } },
    { timeoutSeconds: params.timeout, lookbackSeconds: params.lookback },
  );
  return event ? { id: event.id, amount: event.payload.amount } : null;
});

/**
 * wait-restart (issue 13): a task, then a wait for `order.shipped` of one order. Retried once after a
 * crash (the test SIGKILLs the worker while it waits); returns what the task returned, the event and the attempt.
 */
export const prepareShipment = task({ name: 'prepare-shipment' }, async (order: string) => ({ order, token: randomUUID() }));

export const restartWaiter = flow({ name: 'restart-waiter', retries: 1, retryDelaySeconds: 0 }, async (params: { order: string; timeout?: number }) => {
  const prepared = await prepareShipment(params.order);
  const event = await waitForEvent({ event: 'order.shipped', match: { 'reflex.resource.id': `order.${params.order}` } }, { timeoutSeconds: params.timeout ?? 120 });
  return { prepared, event: event ? event.id : null, attempt: getRunContext().flowRun?.runCount ?? null };
});

/** The same without retries: a crash leaves it CRASHED (wait-restart, issue 13). */
export const restartWaiterOnce = flow({ name: 'restart-waiter-once' }, async (params: { order: string }) => {
  const prepared = await prepareShipment(params.order);
  const event = await waitForEvent({ event: 'order.shipped', match: { 'reflex.resource.id': `order.${params.order}` } }, { timeoutSeconds: 120 });
  return { prepared, event: event ? event.id : null };
});
