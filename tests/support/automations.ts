import assert from 'node:assert/strict';
import { Queue } from 'bullmq';
import { randomUUID } from 'node:crypto';
import type { AutomationsService } from '../../services/automations/service.ts';
import { isConsumerNotFound } from '../../infra/nats-errors.ts';
import { waitFor, type TestEngine } from './harness.ts';

/** Helpers for automation tests: create through the API, emit events, read firings and queued jobs. */

export async function createAutomation(t: TestEngine, doc: Record<string, unknown>, engines: TestEngine[] = [t]): Promise<string> {
  const res = await t.api('POST', '/api/automations', { actions: [{ type: 'do-nothing' }], ...doc });
  assert.equal(res.status, 201, JSON.stringify(res.body));
  await waitLoaded(engines, res.body.id, res.body.updated);
  return res.body.id as string;
}

/** Waits until the automations service of each engine evaluates this version of the automation. */
export async function waitLoaded(engines: TestEngine[], id: string, updated?: string, loaded = true): Promise<void> {
  await waitFor(
    () => engines.every((e) => {
      const s = e.services.find((x) => x.name === 'automations') as AutomationsService | undefined;
      return s ? s.isLoaded(id, updated) === loaded : true;
    }),
    { what: `automation ${id} ${loaded ? 'loaded' : 'unloaded'}` },
  );
}

export interface EventSpec {
  event: string;
  occurred?: string;
  resource?: Record<string, string>;
  related?: Record<string, string>[];
  payload?: Record<string, unknown>;
  id?: string;
}

export async function emit(t: TestEngine, events: EventSpec[]): Promise<string[]> {
  const body = events.map((e) => ({ resource: { 'reflex.resource.id': 'test.thing' }, ...e }));
  const res = await t.api('POST', '/api/events', body);
  assert.equal(res.status, 202, JSON.stringify(res.body));
  return res.body.ids;
}

export interface FiringView {
  id: string;
  state: string;
  fired_at: string;
  triggering_labels: Record<string, string>;
  triggering_event: { id: string; event: string; occurred: string; payload: Record<string, unknown> } | null;
  count: number;
  window_start: string | null;
  window_end: string | null;
  actions: { index: number; type: string; status: string; reason?: string; detail?: Record<string, unknown> }[];
}

export async function firings(t: TestEngine, id: string): Promise<FiringView[]> {
  const res = await t.api('GET', `/api/automations/${id}/firings?limit=500`);
  assert.equal(res.status, 200, JSON.stringify(res.body));
  return res.body.items;
}

export async function waitFirings(t: TestEngine, id: string, n: number, what = `${n} firing(s)`, timeoutMs = 10_000): Promise<FiringView[]> {
  return waitFor(async () => {
    const f = await firings(t, id);
    return f.length >= n ? f : null;
  }, { what, timeoutMs });
}

/** Waits until every action of the newest n firings has an outcome. */
export async function waitOutcomes(t: TestEngine, id: string, n = 1): Promise<FiringView[]> {
  return waitFor(async () => {
    const f = await firings(t, id);
    return f.length >= n && f.every((x) => x.actions.every((a) => a.status !== 'pending')) ? f : null;
  }, { what: 'action outcomes' });
}

/**
 * Proves a negative without sleeping: an immediate sentinel automation sees an event emitted after the
 * events under test; once it fired, the stream has been evaluated past them.
 */
export async function settle(t: TestEngine, engines: TestEngine[] = [t]): Promise<void> {
  const name = `sentinel.${randomUUID().slice(0, 8)}`;
  const id = await createAutomation(t, { name, trigger: { type: 'event', expect: [name] } }, engines);
  await emit(t, [{ event: name }]);
  await waitFirings(t, id, 1, 'sentinel firing');
  await engineSettled(t);
  await t.api('DELETE', `/api/automations/${id}`);
}

/**
 * The engine's own events (`reflex.*`) have a consumer of their own (while an automation can match one),
 * not ordered with the users' events: the sentinel proves nothing about it. It has evaluated every engine
 * event stored so far once nothing it was handed is unacknowledged and it was handed the last one (or
 * has nothing left).
 */
export async function engineSettled(t: TestEngine): Promise<void> {
  const n = t.rt.names;
  const last = (await t.rt.bus.jsm.streams.info(n.streams.events)).state.last_seq;
  await waitFor(async () => {
    const info = await t.rt.bus.jsm.consumers.info(n.streams.events, n.consumers.automationsEngine).catch((err: unknown) => {
      if (isConsumerNotFound(err)) return null;
      throw err;
    });
    return !info || (info.num_ack_pending === 0 && (info.num_pending === 0 || info.delivered.stream_seq >= last));
  }, { what: 'the engine events consumer caught up' });
}

export function queue(t: TestEngine, name: string): Queue {
  return new Queue(name, { connection: t.rt.redis, prefix: t.rt.names.bullPrefix });
}

export const iso = (msFromNow: number) => new Date(Date.now() + msFromNow).toISOString();
