import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { startTestEngine, waitFor, type TestEngine } from './support/harness.ts';

const event = (n: number) => ({ event: 'overload.probe', resource: { 'reflex.resource.id': `probe.${n}` }, payload: { n }, id: randomUUID() });

describe('overload: ingest pushes back once the engine lags past REFLEX_INGEST_MAX_LAG', () => {
  let t: TestEngine;
  before(async () => {
    t = await startTestEngine({ services: ['recorder', 'automations', 'api'], config: { ingestMaxLag: 5 } });
  });
  after(async () => {
    await t?.cleanup();
  });

  it('accepts while within the bound, then answers 503 with Retry-After and shows the lag in /api/health', async () => {
    const first = await t.api('POST', '/api/events', event(0));
    assert.equal(first.status, 202);
    const healthy = await t.api('GET', '/api/health');
    assert.equal(healthy.status, 200);
    assert.equal(healthy.body.ingest.bound, 5);
    assert.equal(healthy.body.ingest.overloaded, false);

    // The automations consumer stops reading: everything ingested from now on is lag.
    await t.services.find((s) => s.name === 'automations')!.stop();
    const batch = await t.api('POST', '/api/events', Array.from({ length: 10 }, (_, i) => event(i + 1)));
    assert.equal(batch.status, 202, 'the request that crosses the bound is still taken (the reading is behind it)');

    const refused = await waitFor(
      async () => {
        const res = await t.api('POST', '/api/events', event(99));
        return res.status === 503 ? res : null;
      },
      { what: 'ingest to refuse', timeoutMs: 10_000 },
    );
    assert.equal(refused.body.error.code, 'ingest_overloaded');
    assert.match(refused.body.error.message, /REFLEX_INGEST_MAX_LAG=5/);
    const retryAfter = Number(refused.headers.get('retry-after'));
    assert.ok(retryAfter >= 1, `Retry-After is a positive number of seconds, got ${refused.headers.get('retry-after')}`);

    const health = await t.api('GET', '/api/health');
    assert.equal(health.status, 200, 'a lagging engine is not unhealthy: it stays in the load balancer');
    assert.equal(health.body.ingest.overloaded, true);
    assert.ok(health.body.ingest.automations >= 10, `automations lag ${health.body.ingest.automations}`);
    assert.ok(health.body.ingest.lag > 5);
  });
});
