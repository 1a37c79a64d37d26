import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { QueueEvents } from 'bullmq';
import { WebhookDeliveryJobSchema } from '../schemas/jobs.ts';
import { LoopDelay } from '../infra/loop-delay.ts';
import { HostLimiter } from '../modules/webhooks/host-limiter.ts';
import { startTestEngine, waitFor, type TestEngine } from './support/harness.ts';

describe('per-host limit: jobs over it wait in process', () => {
  it('hands a released slot to the first waiter, in order, and refuses past the waiting bound', async () => {
    const l = new HostLimiter(1, 2);
    assert.equal(l.acquire('a'), true);
    const order: string[] = [];
    const w1 = l.acquire('a');
    const w2 = l.acquire('a');
    assert.ok(w1 instanceof Promise && w2 instanceof Promise);
    void w1.then(() => order.push('w1'));
    void w2.then(() => order.push('w2'));
    assert.equal(l.acquire('a'), false, 'a third waiter is over the bound');
    assert.equal(l.acquire('b'), true, 'another host is not held up');
    assert.equal(l.waitingFor('a'), 2);
    l.release('a');
    await w1;
    assert.deepEqual(order, ['w1']);
    l.release('a');
    await w2;
    assert.deepEqual(order, ['w1', 'w2']);
    l.release('a');
    assert.equal(l.waitingFor('a'), 0);
    // Every slot returned: the limit is whole again.
    assert.equal(l.acquire('a'), true);
    assert.ok(l.acquire('a') instanceof Promise);
  });

  it('drop turns every waiter of a host away (false), and leaves the slots and other hosts as they were', async () => {
    const l = new HostLimiter(1, 10);
    assert.equal(l.acquire('a'), true);
    assert.equal(l.acquire('b'), true);
    const waiters = [l.acquire('a'), l.acquire('a'), l.acquire('b')];
    assert.deepEqual(l.waitingHosts().sort(), ['a', 'b']);
    assert.equal(l.drop('a'), 2);
    assert.deepEqual(await Promise.all(waiters.slice(0, 2)), [false, false]);
    assert.deepEqual(l.waitingHosts(), ['b']);
    l.release('b');
    assert.equal(await waiters[2], true, 'the other host still hands its slot over');
    // Its slot is still taken; a bound given to acquire overrides the limiter's own.
    assert.equal(l.acquire('a', 0), false);
    assert.ok(l.acquire('a', Number.POSITIVE_INFINITY) instanceof Promise);
  });

  it('the loop delay it reads includes a loop that was blocked', async () => {
    const loop = new LoopDelay();
    try {
      assert.ok(loop.recentMaxMs() < 100, 'an idle loop is not late');
      const block = () => {
        const until = performance.now() + 150;
        while (performance.now() < until) {
          // Busy: the loop cannot turn.
        }
      };
      // The histogram records a delay when its timer fires late, and not on its first firing: block until
      // a block shows (the second at the latest).
      await waitFor(
        () => {
          if (loop.recentMaxMs() >= 100) return true;
          block();
          return false;
        },
        { what: 'a 150 ms block in the reading', timeoutMs: 5000 },
      );
    } finally {
      loop.stop();
    }
  });

  it('with no waiting allowed it refuses at once (the delayed-set fallback)', () => {
    const l = new HostLimiter(1, 0);
    assert.equal(l.acquire('a'), true);
    assert.equal(l.acquire('a'), false);
  });

  describe('delivering to one slow host', () => {
    let t: TestEngine;
    let events: QueueEvents;
    let delayed = 0;
    let server: Server;
    let url = '';
    let current = 0;
    let peak = 0;
    const seen = new Map<string, number>();

    before(async () => {
      server = createServer((req, res) => {
        current += 1;
        peak = Math.max(peak, current);
        req.resume();
        req.on('end', () => {
          const id = String(req.url).slice('/slow/'.length);
          seen.set(id, (seen.get(id) ?? 0) + 1);
          // Slow enough that the jobs pile up behind the limit of 2.
          setTimeout(() => {
            current -= 1;
            res.writeHead(204).end();
          }, 40);
        });
      });
      await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
      url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/slow/`;
      t = await startTestEngine({
        services: ['recorder', 'webhooks', 'api'],
        config: { webhookAllowHosts: ['127.0.0.1'], webhookHostConcurrency: 2, webhookWorkerConcurrency: 40 },
      });
      // Every move of a job to the delayed set, seen as BullMQ announces it.
      events = new QueueEvents(t.rt.names.queues.webhookDeliveries, { connection: t.rt.redis.duplicate({ maxRetriesPerRequest: null }), prefix: t.rt.names.bullPrefix });
      events.on('delayed', () => void (delayed += 1));
      await events.waitUntilReady();
    });
    after(async () => {
      await events?.close();
      await t?.cleanup();
      server?.closeAllConnections();
      await new Promise<void>((r) => server?.close(() => r()));
    });

    it('keeps to the limit, delivers each once, and never delays a job', async () => {
      const ids: string[] = [];
      for (let i = 0; i < 16; i++) {
        const id = randomUUID();
        ids.push(id);
        await t.modules.deliveries.enqueue(
          WebhookDeliveryJobSchema.parse({ delivery_id: id, idempotency_key: id, url: url + id, body: '{}', retry: { attempts: 2, delay_seconds: 0.05 }, timeout_seconds: 5 }),
        );
      }
      // Every job is taken by a worker slot and waits in process (40 slots: 2 in flight + 18 may wait).
      await waitFor(() => ids.every((id) => seen.get(id) === 1), { what: 'all 16 delivered', timeoutMs: 20_000 });
      assert.ok(peak <= 2, `at most 2 requests in flight to the host, saw ${peak}`);
      assert.ok(peak === 2, 'the limit is used, not undershot');
      for (const id of ids) {
        const res = await t.api('GET', `/api/webhook-deliveries/${id}`);
        assert.equal(res.body.status, 'succeeded');
        assert.equal(res.body.attempts.length, 1, 'one attempt each: waiting for a slot is not an attempt');
      }
      assert.deepEqual([...seen.values()].filter((n) => n !== 1), [], 'nothing delivered twice');
      assert.equal(delayed, 0, 'no job went back to the delayed set to wait for its host');
    });
  });
});
