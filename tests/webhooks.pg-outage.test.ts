import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import type { Queue } from 'bullmq';
import { WebhookDeliveryJobSchema } from '../schemas/jobs.ts';
import { Receiver } from './support/receiver.ts';
import { startTestEngine, waitFor, type TestEngine } from './support/harness.ts';
import { PrivatePostgres, skipWithout } from './support/private-services.ts';

/**
 * A delivery enqueued while the delivery log (Postgres) is down must wait for it, without failing and
 * without spending the receiver's attempts, and be sent exactly once when Postgres is back. The shared
 * Postgres on 5432 serves the other test files, so this one kills a cluster of its own.
 */

describe('a webhook delivery survives a PostgreSQL outage', { skip: skipWithout.postgres }, () => {
  const receiver = new Receiver();
  let cluster: PrivatePostgres | undefined;
  let t: TestEngine | undefined;
  let queue: Queue | undefined;

  before(async () => {
    await receiver.start();
    cluster = await PrivatePostgres.create();
    await cluster.start();
    t = await startTestEngine({ services: ['webhooks', 'api'], config: { databaseUrl: cluster.url, webhookAllowHosts: ['127.0.0.1'] } });
    queue = t.modules.deliveries.queue();
  });

  after(async () => {
    await receiver.stop();
    try {
      // Reset drops the namespace's schema last; with Postgres down it would fail after its connect timeout.
      if (t && cluster && !cluster.running) await cluster.start().catch(() => {});
      await queue?.close();
      await t?.cleanup();
    } finally {
      await cluster?.destroy();
    }
  });

  const job = (path: string) => {
    const id = randomUUID();
    return WebhookDeliveryJobSchema.parse({
      delivery_id: id,
      idempotency_key: id,
      url: `${receiver.url}${path}`,
      body: JSON.stringify({ delivery: id }),
      // Fewer attempts than the outage lasts for: had it spent any, the count would show it or the delivery fail.
      retry: { attempts: 2, delay_seconds: 0.05 },
      timeout_seconds: 2,
    });
  };

  const deliveryOf = async (id: string) => (await (t as TestEngine).api('GET', `/api/webhook-deliveries/${id}`)).body;

  it('waits for the delivery log and then sends once, with its attempt budget intact', async (ctx) => {
    const engine = t as TestEngine;
    const pg = cluster as PrivatePostgres;
    const q = queue as Queue;

    // A delivery before the outage leaves the pool with idle connections, which the kill breaks under it.
    const warm = job('/before');
    await engine.modules.deliveries.enqueue(warm);
    await waitFor(async () => (await deliveryOf(warm.delivery_id))?.status === 'succeeded', { timeoutMs: 15_000, what: 'the delivery before the outage' });
    assert.ok(engine.rt.pg.idleCount > 0, 'the pool holds idle connections when Postgres goes away');

    const killedAt = Date.now();
    await pg.kill();

    const j = job(`/during/${randomUUID()}`);
    const path = new URL(j.url).pathname;
    await engine.modules.deliveries.enqueue(j);
    // Two failures, as many as the receiver's attempts. Delayed, not failed: the job records each failure,
    // then moves itself back to delayed to try again.
    const failed = await waitFor(
      async () => {
        const data = (await q.getJob(j.idempotency_key))?.data as { service_failures?: number; attempt?: number } | undefined;
        return (data?.service_failures ?? 0) >= 2 && (await q.getJobState(j.idempotency_key)) === 'delayed' ? data : null;
      },
      { timeoutMs: 20_000, what: 'the job to record two service failures and wait' },
    );
    assert.equal(receiver.requestsTo(path).length, 0, 'nothing is sent before the delivery is in the log');

    const restartedAt = Date.now();
    await pg.start();
    const readyAt = Date.now();
    // The backoff after a few failures is seconds long (500 ms * 2^n, at most 60 s).
    await waitFor(() => receiver.requestsTo(path).length > 0, { timeoutMs: 60_000, intervalMs: 50, what: 'the receiver to get the delivery' });
    const sentAt = Date.now();
    const d = await waitFor(
      async () => {
        const body = await deliveryOf(j.delivery_id);
        return body?.status === 'succeeded' ? body : null;
      },
      { timeoutMs: 15_000, what: 'the delivery log to show the delivery succeeded' },
    );
    ctx.diagnostic(
      `Postgres down ${restartedAt - killedAt} ms (${failed.service_failures} service failures by then); ` +
        `up again in ${readyAt - restartedAt} ms; delivered ${sentAt - readyAt} ms later`,
    );

    assert.equal(receiver.requestsTo(path).length, 1, 'sent exactly once');
    const [req] = receiver.requestsTo(path);
    assert.equal(req.body, j.body);
    assert.equal(d.attempt_count, 1, 'the outage did not count as attempts');
    assert.equal(d.attempts.length, 1);
    assert.deepEqual({ series: d.attempts[0].series, attempt: d.attempts[0].attempt, status_code: d.attempts[0].status_code }, { series: 1, attempt: 1, status_code: 204 });
    assert.equal(d.next_attempt_at, null);
    // Completed (and so removed, core/jobs.ts), not failed: a failed job would be kept.
    await waitFor(async () => (await q.getJobState(j.idempotency_key)) === 'unknown', { what: 'the job to complete' });
    assert.equal(failed.attempt, 1, "the job's attempt number is unchanged by the outage");
  });
});
