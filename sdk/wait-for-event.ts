import { conditionTest, eventNameTest, relatedTest, resourceTest } from '../modules/automations/index.ts';
import type { ResourceSpec } from '../schemas/automation.ts';
import type { ReflexEvent } from '../schemas/event.ts';
import { resolveClient } from './client.ts';
import { runContext } from './context.ts';
import { CancelledError, SdkUsageError } from './errors.ts';
import { settleAll } from './limits.ts';

/**
 * waitForEvent: the first event matching a filter, with the automations' matching rules (event-name
 * globs with `!` exclusions, `match` / `match_related` label patterns, a json-logic `condition`).
 * The wait is recorded on the run (modules/waits) with its start time and deadline: a run started again
 * (a retry after a crash, a resumed suspension) re-enters the same wait, and the matched event, once found,
 * is its answer for good. The tasks before the wait are committed before it is opened, so a crash retry
 * replays them (flow-runner) instead of running them twice. Events are read from the JetStream stream starting at `now - lookbackSeconds`,
 * so an event emitted just before the wait (or while the worker was down) is seen: no race, no scope id.
 */

export interface EventWaitSpec {
  /** Event names or patterns (`order.shipped`, `order.*`, `!order.test`). */
  event: string | readonly string[];
  /** Labels of the event's resource, as an automation trigger's `match`. */
  match?: ResourceSpec;
  /** Related resources, as a trigger's `match_related`. */
  matchRelated?: ResourceSpec | ResourceSpec[];
  /** A json-logic rule on `{ event }`, as a trigger's `condition`. */
  condition?: unknown;
}

export interface EventWaitOptions {
  /** How long to wait (default 3600 s); on timeout the call resolves with null. */
  timeoutSeconds?: number;
  /** Events stored up to this many seconds before the wait also count (default 0). */
  lookbackSeconds?: number;
}

const DEFAULT_TIMEOUT_SECONDS = 3600;
/** Reading back a closed window: how long without a message means the stored ones are all read. */
const CATCH_UP_IDLE_MS = 1500;

export async function waitForEvent(spec: EventWaitSpec, options: EventWaitOptions = {}): Promise<ReflexEvent | null> {
  const names = typeof spec?.event === 'string' ? [spec.event] : Array.isArray(spec?.event) ? [...spec.event] : [];
  if (names.length === 0 || names.some((n) => typeof n !== 'string' || n.length === 0)) throw new SdkUsageError('waitForEvent({ event }): event must be an event name or a list of them, e.g. "order.shipped"');
  const timeoutSeconds = options.timeoutSeconds ?? DEFAULT_TIMEOUT_SECONDS;
  const lookbackSeconds = options.lookbackSeconds ?? 0;
  if (!Number.isFinite(timeoutSeconds) || timeoutSeconds <= 0) throw new SdkUsageError(`waitForEvent(): timeoutSeconds must be > 0, got ${timeoutSeconds}`);
  if (!Number.isFinite(lookbackSeconds) || lookbackSeconds < 0) throw new SdkUsageError(`waitForEvent(): lookbackSeconds must be >= 0, got ${lookbackSeconds}`);
  const nameTest = eventNameTest(names)!;
  const matchResource = resourceTest(spec.match ?? {});
  const matchRelated = relatedTest(spec.matchRelated ?? []);
  const condition = conditionTest(spec.condition);
  const matches = (e: ReflexEvent) => nameTest(e.event) && matchResource(e.resource) && matchRelated(e.related) && (!condition || condition(e));

  const ctx = runContext.getStore();
  const client = ctx ? ctx.client : await resolveClient();
  if (!client) throw new SdkUsageError('waitForEvent() needs the engine (its event stream), which is unreachable');
  const signal = ctx?.signal;
  const scope = ctx?.flow;
  const runId = scope?.id ?? null;
  const release = ctx ? undefined : client.hold();
  try {
    let start = new Date(Date.now() - lookbackSeconds * 1000);
    let deadline = Date.now() + timeoutSeconds * 1000;
    let waitKey: string | null = null;
    if (scope && runId) {
      const n = scope.taskCalls.get('$event') ?? 0;
      scope.taskCalls.set('$event', n + 1);
      waitKey = `event-${n}`;
      // The tasks before the wait are committed first: if this process dies while it waits, the crash
      // retry finds their results recorded and replays them rather than running them again.
      await settleAll(scope.writes);
      const opened = await client.waits.open({
        flow_run_id: runId,
        wait_key: waitKey,
        kind: 'event',
        spec: { event: names, match: spec.match ?? null, match_related: spec.matchRelated ?? null, condition: spec.condition ?? null, start_time: start.toISOString() },
        timeout_at: new Date(deadline).toISOString(),
      });
      if (opened.outcome === 'matched') return opened.result as ReflexEvent;
      if (opened.outcome === 'timed_out') return null;
      // The wait as first opened: a run started again keeps its original window and deadline.
      start = new Date(String(opened.spec.start_time));
      deadline = Date.parse(opened.timeout_at ?? '') || deadline;
    }
    const found = await scan(client.bus, subjectsOf(client.bus.names, names), start, deadline, matches, signal);
    if (runId && waitKey) {
      const resolved = await client.waits.resolve(runId, waitKey, found ? 'matched' : 'timed_out', found);
      // Resolved meanwhile by an earlier attempt of this run: its answer stands.
      if (!resolved) {
        const existing = await client.waits.get(runId, waitKey);
        return existing?.outcome === 'matched' ? (existing.result as ReflexEvent) : null;
      }
    }
    return found;
  } finally {
    release?.();
  }
}

/**
 * The JetStream subject to read: the name's own subject for one plain name or prefix, else none: every
 * event (matched here; the stream holds two subject trees, and NATS 2.9 takes one filter subject).
 */
function subjectsOf(n: { eventFilterSubject(pattern: string): string }, names: string[]): string | undefined {
  const [only] = names;
  const simple = names.length === 1 && !only.startsWith('!') && (!only.includes('*') || (only.endsWith('.*') && !only.slice(0, -2).includes('*')));
  return simple ? n.eventFilterSubject(only) : undefined;
}

async function scan(
  bus: import('../infra/bus.ts').EventBus,
  subject: string | undefined,
  start: Date,
  deadline: number,
  matches: (e: ReflexEvent) => boolean,
  signal: AbortSignal | undefined,
): Promise<ReflexEvent | null> {
  // The window closed while no process watched it (a crash retry after the deadline): an event stored
  // within the window still counts, so the stored events are read up to the deadline, no further.
  const catchUp = Date.now() >= deadline;
  const consumer = await bus.orderedFrom(subject, start);
  const messages = await consumer.consume();
  let cancelled = false;
  const stop = () => void messages.stop();
  // Catching up: nothing matching may be stored at all, and then no message ever comes; a short idle bound ends it.
  let timer = setTimeout(stop, catchUp ? CATCH_UP_IDLE_MS : Math.max(0, deadline - Date.now()));
  const onAbort = () => {
    cancelled = true;
    stop();
  };
  signal?.addEventListener('abort', onAbort, { once: true });
  try {
    for await (const m of messages) {
      if (catchUp) {
        if (Number(m.info.timestampNanos) / 1e6 > deadline) break;
        clearTimeout(timer);
        timer = setTimeout(stop, CATCH_UP_IDLE_MS);
      }
      let event: ReflexEvent | null = null;
      try {
        event = bus.decode(m.data);
      } catch {
        event = null;
      }
      if (event && matches(event)) return event;
      if (catchUp && m.info.pending === 0) break;
    }
    if (cancelled) throw new CancelledError('the run was cancelled while it waited for an event');
    return null;
  } finally {
    clearTimeout(timer);
    signal?.removeEventListener('abort', onAbort);
    void messages.stop();
  }
}
