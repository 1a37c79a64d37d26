import type { Redis } from 'ioredis';
import { coalesced } from '../../infra/coalesce.ts';
import type { Runtime } from '../../infra/runtime.ts';

/**
 * How a running worker learns that its flow run was cancelled, within milliseconds: a Redis flag (so a
 * watcher that starts late still sees it) plus a pub/sub message on one namespace channel (so a watcher
 * learns at once). The API and the flow-run commands of automations call `requestCancel` after moving the run
 * to CANCELLING; the worker calls `watchCancellation` when it starts the run, aborts the flow through its
 * AbortSignal when told, then proposes CANCELLED.
 */

const FLAG_TTL_SECONDS = 24 * 3600;

export const cancellationKeys = {
  flag: (rt: Runtime, runId: string) => rt.names.redisKey('flow-run-cancel', runId),
  channel: (rt: Runtime) => rt.names.redisKey('flow-run-cancel-channel'),
};

export async function requestCancel(rt: Runtime, runId: string): Promise<void> {
  await rt.redis.set(cancellationKeys.flag(rt, runId), '1', 'EX', FLAG_TTL_SECONDS);
  await rt.redis.publish(cancellationKeys.channel(rt), runId);
}

interface Watchers {
  subscriber: Redis;
  /** Reads cancellation flags; the flags of runs starting together are read with one MGET. */
  flagged: (runId: string) => Promise<string | null>;
  ready: Promise<unknown>;
  handlers: Map<string, Set<() => void>>;
}

const watchers = new WeakMap<Runtime, Watchers>();

function watchersOf(rt: Runtime): Watchers {
  let w = watchers.get(rt);
  if (!w) {
    const subscriber = rt.redisConnection('flow-run-cancel-watch');
    const handlers = new Map<string, Set<() => void>>();
    subscriber.on('message', (_channel: string, runId: string) => {
      for (const h of handlers.get(runId) ?? []) h();
    });
    const flagged = coalesced(async (ids: readonly string[]) => {
      const values = await rt.redis.mget(ids.map((id) => cancellationKeys.flag(rt, id)));
      return new Map(ids.flatMap((id, i) => (values[i] === null ? [] : [[id, values[i] as string] as const])));
    });
    w = { subscriber, handlers, flagged, ready: subscriber.subscribe(cancellationKeys.channel(rt)) };
    watchers.set(rt, w);
  }
  return w;
}

/**
 * Calls `onCancel` (once) when cancellation of the run is requested, including a request made before the
 * watch started. Returns a function that stops watching; call it when the run ends.
 */
export function watchCancellation(rt: Runtime, runId: string, onCancel: () => void): () => void {
  const w = watchersOf(rt);
  let fired = false;
  const handler = () => {
    if (fired) return;
    fired = true;
    onCancel();
  };
  let set = w.handlers.get(runId);
  if (!set) w.handlers.set(runId, (set = new Set()));
  set.add(handler);
  // The flag covers a request published before the subscription was ready.
  void w.ready
    .then(() => w.flagged(runId))
    .then((flag) => {
      if (flag !== null && set.has(handler)) handler();
    })
    .catch((err: unknown) => rt.log.warn({ err, flow_run_id: runId }, 'could not check cancellation flag'));
  return () => {
    set.delete(handler);
    if (set.size === 0) w.handlers.delete(runId);
  };
}
