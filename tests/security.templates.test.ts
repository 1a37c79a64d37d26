import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { renderString } from '../modules/automations/engine/render.ts';
import { createAutomation, emit, firings } from './support/automations.ts';
import { startTestEngine, waitFor, type TestEngine } from './support/harness.ts';

/**
 * Templates as an attacker writes them. Renders used to be synchronous with a 1 s limit each, so 3 events
 * through an automation of 3 looping templates held the process for seconds (another client's ingest
 * waited 1.7 s). A render may still run up to its limit, but it must let other work in as it goes.
 */

/** About 9 million loop steps: far more than the render limit allows. */
const LOOPING = '{% for a in (1..3000) %}{% for b in (1..3000) %}{% assign c = b | plus: a %}{% endfor %}{% endfor %}';

describe('hostile templates', () => {
  let t: TestEngine;
  before(async () => {
    t = await startTestEngine({ services: ['recorder', 'automations', 'api'] });
  });
  after(async () => {
    await t?.cleanup();
  });

  it('a looping render ends at its limit and lets timers run while it goes', async () => {
    let ticks = 0;
    const timer = setInterval(() => ticks++, 1);
    try {
      await assert.rejects(renderString(LOOPING, {}), /template render limit exceeded/);
    } finally {
      clearInterval(timer);
    }
    // Synchronous rendering let no timer run until the render had ended.
    assert.ok(ticks > 0, 'a timer ran during the render');
  });

  it('3 events through 3 looping actions do not hold up another client', async () => {
    const looping = { type: 'emit-event', event: { event: 'tpl.out', resource: { 'reflex.resource.id': 'tpl' }, payload: { v: LOOPING } } };
    const id = await createAutomation(t, { name: 'looping', trigger: { type: 'event', expect: ['tpl.in'] }, actions: [looping, looping, looping] });
    await emit(t, [1, 2, 3].map((i) => ({ event: 'tpl.in', payload: { i } })));

    // Meanwhile another client sends events one at a time until the firings are recorded.
    const latencies: number[] = [];
    const all = await waitFor(
      async () => {
        const t0 = performance.now();
        await emit(t, [{ event: 'tpl.other' }]);
        latencies.push(performance.now() - t0);
        const fs = await firings(t, id);
        return fs.length === 3 && fs.every((f) => f.actions.length === 3) ? fs : null;
      },
      { timeoutMs: 30_000, intervalMs: 1, what: 'three firings with three failed actions' },
    );
    for (const f of all) {
      for (const a of f.actions) {
        assert.equal(a.status, 'failed', JSON.stringify(a));
        assert.match(a.reason ?? '', /render limit exceeded/);
      }
    }
    // Nine renders ran to their 1 s limit; the other client's requests were never held for a render's length.
    assert.ok(latencies.length >= 3, `${latencies.length} requests during the renders: ${latencies.map(Math.round)}`);
    assert.ok(Math.max(...latencies) < 750, `another client's ingest took at most ${Math.round(Math.max(...latencies))} ms`);
  });

  it('a dry run whose firings all loop stops rendering at its budget instead of holding the request', async () => {
    // Found by the fuzzer: a proactive window of 10 s over a year fires 1,000 times, and each render ran
    // to its 1 s limit after the evaluation budget was spent.
    const looping = { type: 'emit-event', event: { event: 'tpl.out', resource: { 'reflex.resource.id': 'tpl' }, payload: { v: LOOPING } } };
    const automation = { name: 'looping-dry-run', trigger: { type: 'event', expect: ['tpl.in'], posture: 'Proactive', threshold: 2, within: 10 }, actions: [looping] };
    const until = new Date(Date.now() + 365 * 24 * 3600 * 1000).toISOString();
    const started = Date.now();
    const res = await t.api('POST', '/api/automations/test', { automation, events: [], until });
    assert.equal(res.status, 200, JSON.stringify(res.body).slice(0, 300));
    assert.equal(res.body.truncated, true);
    const statuses = new Set(res.body.firings.flatMap((f: { actions: { status: string }[] }) => f.actions.map((a) => a.status)));
    assert.ok(statuses.has('not-rendered'), [...statuses].join());
    // The budget is 5 s of evaluation and rendering together, plus at most one render in flight.
    assert.ok(Date.now() - started < 15_000, `answered after ${Date.now() - started} ms`);
  });

  it('an incoming webhook with a looping template answers a 4xx naming the template, and health answers meanwhile', async () => {
    const created = await t.api('POST', '/api/webhooks', { name: 'looping-hook', template: `{"event":"x.y","payload":{"v":"${LOOPING.replaceAll('"', '\\"')}"}}` });
    assert.equal(created.status, 201, JSON.stringify(created.body));
    const slug = created.body.slug as string;
    let done = false;
    const call = t.api('POST', `/hooks/${slug}`, { a: 1 }).finally(() => (done = true));
    const latencies: number[] = [];
    while (!done) {
      const t0 = performance.now();
      assert.equal((await t.api('GET', '/api/health')).status, 200);
      latencies.push(performance.now() - t0);
    }
    const res = await call;
    assert.ok(res.status >= 400 && res.status < 500, `${res.status} ${JSON.stringify(res.body)}`);
    assert.ok(res.body.error.issues.some((i: { path: string }) => i.path === 'template'), JSON.stringify(res.body));
    assert.ok(latencies.length > 1, `health answered ${latencies.length} times during the render`);
    assert.ok(Math.max(...latencies) < 750, `health answered in at most ${Math.round(Math.max(...latencies))} ms during the render`);
  });
});
