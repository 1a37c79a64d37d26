import assert from 'node:assert/strict';
import { randomBytes, randomUUID } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { Webhook } from 'standardwebhooks';
import { WebhookDeliveryJobSchema, type WebhookDeliveryJob } from '../schemas/jobs.ts';
import { WebhookDeliverySchema } from '../schemas/webhook.ts';
import { ReflexError } from '../core/errors.ts';
import { Receiver } from './support/receiver.ts';
import { startTestEngine, waitFor, type TestEngine } from './support/harness.ts';

const secret = `whsec_${randomBytes(24).toString('base64')}`;

function job(url: string, overrides: Partial<WebhookDeliveryJob> = {}): WebhookDeliveryJob {
  const id = randomUUID();
  return WebhookDeliveryJobSchema.parse({
    delivery_id: id,
    idempotency_key: id,
    url,
    body: JSON.stringify({ hello: 'world', n: 1 }),
    headers: { 'x-custom': 'yes' },
    retry: { attempts: 4, delay_seconds: 0.05 },
    timeout_seconds: 2,
    ...overrides,
  });
}

describe('outgoing webhook deliveries', () => {
  let t: TestEngine;
  const receiver = new Receiver();

  before(async () => {
    await receiver.start();
    t = await startTestEngine({ services: ['recorder', 'webhooks', 'api'], config: { webhookAllowHosts: ['127.0.0.1'] } });
  });
  after(async () => {
    await receiver.stop();
    await t?.cleanup();
  });

  const delivery = async (id: string, status: string) =>
    waitFor(
      async () => {
        const res = await t.api('GET', `/api/webhook-deliveries/${id}`);
        return res.status === 200 && res.body.status === status ? res.body : null;
      },
      { what: `delivery ${id} ${status}`, timeoutMs: 15_000 },
    );

  it('delivers the body and headers as rendered, signed per Standard Webhooks', async () => {
    receiver.respond({ status: 200, body: 'thanks' });
    const j = job(`${receiver.url}/signed`, { secret });
    await t.modules.deliveries.enqueue(j);
    const d = await delivery(j.delivery_id, 'succeeded');
    const req = receiver.requests.find((r) => r.url === '/signed');
    assert.ok(req);
    assert.equal(req.body, j.body);
    assert.equal(req.headers['x-custom'], 'yes');
    assert.equal(req.headers['content-type'], 'application/json');
    assert.equal(req.headers['webhook-id'], j.delivery_id);
    // Verified by the Standard Webhooks library itself, not by our own code.
    const verified = new Webhook(secret).verify(req.body, req.headers as Record<string, string>);
    assert.deepEqual(verified, { hello: 'world', n: 1 });
    assert.equal(d.signed, true);
    assert.equal(JSON.stringify(d).includes(secret), false, 'the secret never appears in the API');
    assert.equal(d.attempts.length, 1);
    assert.equal(d.attempts[0].status_code, 200);
    assert.equal(d.attempts[0].response_body, 'thanks');
    // The answer is what the published schema says, field for field.
    WebhookDeliverySchema.strict().parse(d);
    const listed = await t.api('GET', `/api/webhook-deliveries?limit=5`);
    for (const item of listed.body.items) WebhookDeliverySchema.strict().parse(item);
  });

  it('sends unsigned when no secret is set', async () => {
    const j = job(`${receiver.url}/unsigned`);
    await t.modules.deliveries.enqueue(j);
    await delivery(j.delivery_id, 'succeeded');
    const req = receiver.requests.find((r) => r.url === '/unsigned');
    assert.equal(req?.headers['webhook-signature'], undefined);
  });

  it('retries on 500 and stops at the first 2xx, recording each attempt', async () => {
    receiver.respond({ status: 500 }, { status: 503 }, { status: 202 });
    const j = job(`${receiver.url}/flaky`);
    await t.modules.deliveries.enqueue(j);
    const d = await delivery(j.delivery_id, 'succeeded');
    assert.deepEqual(d.attempts.map((a: { status_code: number }) => a.status_code), [500, 503, 202]);
    assert.equal(receiver.requests.filter((r) => r.url === '/flaky').length, 3);
    receiver.respond({ status: 204 });
  });

  it('retries after a timeout', async () => {
    receiver.respond({ status: 200, delayMs: 1500 }, { status: 200 });
    const j = job(`${receiver.url}/slow`, { timeout_seconds: 0.3 });
    await t.modules.deliveries.enqueue(j);
    const d = await delivery(j.delivery_id, 'succeeded');
    assert.match(d.attempts[0].error, /timed out/);
    assert.equal(d.attempts[1].status_code, 200);
    receiver.respond({ status: 204 });
  });

  it('fails a 400 at once and emits reflex.webhook.delivery.failed', async () => {
    receiver.respond({ status: 400, body: 'bad' });
    const j = job(`${receiver.url}/reject`);
    await t.modules.deliveries.enqueue(j);
    const d = await delivery(j.delivery_id, 'failed');
    assert.equal(d.attempts.length, 1);
    const event = await waitFor(async () =>
      (await t.rt.pg.query("SELECT * FROM events WHERE event = 'reflex.webhook.delivery.failed' AND resource_id = $1", [`reflex.webhook-delivery.${j.delivery_id}`])).rows[0],
    );
    assert.equal(event.payload.status_code, 400);
    receiver.respond({ status: 204 });
  });

  it('gives up after the last attempt', async () => {
    receiver.respond({ status: 502 });
    const j = job(`${receiver.url}/down`, { retry: { attempts: 3, delay_seconds: 0.02 } });
    await t.modules.deliveries.enqueue(j);
    const d = await delivery(j.delivery_id, 'failed');
    assert.equal(d.attempts.length, 3);
    receiver.respond({ status: 204 });
  });

  it('honours Retry-After', async () => {
    receiver.respond({ status: 429, headers: { 'retry-after': '1' } }, { status: 200 });
    const j = job(`${receiver.url}/throttled`);
    await t.modules.deliveries.enqueue(j);
    await delivery(j.delivery_id, 'succeeded');
    const reqs = receiver.requests.filter((r) => r.url === '/throttled');
    assert.equal(reqs.length, 2);
    assert.ok(reqs[1].at - reqs[0].at >= 950, `second attempt came after ${reqs[1].at - reqs[0].at} ms`);
    receiver.respond({ status: 204 });
  });

  it('replays with the same body and a new signature timestamp', async () => {
    const j = job(`${receiver.url}/replay`, { secret });
    await t.modules.deliveries.enqueue(j);
    await delivery(j.delivery_id, 'succeeded');
    const first = receiver.requests.filter((r) => r.url === '/replay')[0];
    await waitFor(() => Math.floor(Date.now() / 1000) > Number(first.headers['webhook-timestamp']));
    const res = await t.api('POST', `/api/webhook-deliveries/${j.delivery_id}/replay`);
    assert.equal(res.status, 202);
    await waitFor(() => receiver.requests.filter((r) => r.url === '/replay').length === 2);
    const second = receiver.requests.filter((r) => r.url === '/replay')[1];
    assert.equal(second.body, first.body);
    assert.notEqual(second.headers['webhook-timestamp'], first.headers['webhook-timestamp']);
    new Webhook(secret).verify(second.body, second.headers as Record<string, string>);
    const d = await delivery(j.delivery_id, 'succeeded');
    assert.equal(d.series, 2);
  });

  it('reaches a receiver that was down for a while', async () => {
    const later = new Receiver();
    await later.start();
    const port = later.port;
    await later.stop();
    const j = job(`http://127.0.0.1:${port}/late`, { retry: { attempts: 8, delay_seconds: 0.1 } });
    await t.modules.deliveries.enqueue(j);
    await waitFor(async () => (await t.api('GET', `/api/webhook-deliveries/${j.delivery_id}`)).body?.attempt_count >= 1);
    await later.start(port);
    try {
      const d = await delivery(j.delivery_id, 'succeeded');
      assert.ok(d.attempts.length >= 2);
      assert.match(d.attempts[0].error, /ECONNREFUSED/);
    } finally {
      await later.stop();
    }
  });

  it('emits reflex.webhook.delivery.succeeded with the automation and event related, never the secret', async () => {
    const automationId = randomUUID();
    const eventId = randomUUID();
    const j = job(`${receiver.url}/related?token=abc`, { secret, automation_id: automationId, event_id: eventId, firing_id: randomUUID() });
    await t.modules.deliveries.enqueue(j);
    await delivery(j.delivery_id, 'succeeded');
    const event = await waitFor(async () =>
      (await t.rt.pg.query("SELECT * FROM events WHERE event = 'reflex.webhook.delivery.succeeded' AND resource_id = $1", [`reflex.webhook-delivery.${j.delivery_id}`])).rows[0],
    );
    const text = JSON.stringify(event);
    assert.equal(text.includes(secret), false);
    assert.equal(text.includes('token=abc'), false, 'query strings (often tokens) stay out of events');
    assert.ok(text.includes(`reflex.automation.${automationId}`));
    assert.ok(text.includes(`reflex.event.${eventId}`));
    assert.equal(event.payload.status_code, 204);
  });

  it('sends a CloudEvent body as application/cloudevents+json', async () => {
    const body = JSON.stringify({ specversion: '1.0', id: randomUUID(), source: 'reflex', type: 'order.placed', data: {} });
    const j = job(`${receiver.url}/cloudevent`, { format: 'cloudevent', body });
    await t.modules.deliveries.enqueue(j);
    await delivery(j.delivery_id, 'succeeded');
    const [req] = receiver.requestsTo('/cloudevent');
    assert.equal(req.headers['content-type'], 'application/cloudevents+json');
    assert.equal(req.body, body);
  });

  it('sends a delivery once when it is enqueued twice, even after its job is gone', async () => {
    const j = job(`${receiver.url}/once`);
    await t.modules.deliveries.enqueue(j);
    await t.modules.deliveries.enqueue(j);
    await delivery(j.delivery_id, 'succeeded');
    // A completed job is removed (core/jobs.ts), so a producer re-enqueuing after that makes a new job
    // of the same id: the delivery log recognises the delivery as finished, and the job ends unsent.
    const queue = t.modules.deliveries.queue();
    try {
      await waitFor(async () => (await queue.getJobState(j.idempotency_key)) === 'unknown', { what: 'the completed job to be removed' });
      // The queue's event stream says whether the enqueue made a job (its state alone cannot: the job may
      // already have run and been removed when it is read).
      const redis = t.rt.redis;
      const since = (await redis.xrevrange(queue.keys.events, '+', '-', 'COUNT', 1))[0]?.[0] ?? '0';
      await t.modules.deliveries.enqueue(j);
      const added = (await redis.xrange(queue.keys.events, `(${since}`, '+')).some(([, f]) => f[1] === 'added' && f.includes(j.idempotency_key));
      assert.ok(added, 'the enqueue made a new job');
      await waitFor(async () => (await queue.getJobState(j.idempotency_key)) === 'unknown', { what: 'the re-enqueued job to complete' });
    } finally {
      await queue.close();
    }
    assert.equal(receiver.requestsTo('/once').length, 1);
  });

  it('does not follow redirects: a 302 fails at once', async () => {
    receiver.respond({ status: 302, headers: { location: `${receiver.url}/elsewhere` } });
    const j = job(`${receiver.url}/moved`);
    await t.modules.deliveries.enqueue(j);
    const d = await delivery(j.delivery_id, 'failed');
    assert.equal(d.attempts.length, 1);
    assert.equal(d.attempts[0].status_code, 302);
    assert.equal(receiver.requestsTo('/elsewhere').length, 0);
    receiver.respond({ status: 204 });
  });

  it('keeps the first 4 KiB of a large or binary response body', async () => {
    receiver.respond({ status: 200, body: `a\u0000b${'x'.repeat(200_000)}` });
    const j = job(`${receiver.url}/big`);
    await t.modules.deliveries.enqueue(j);
    const d = await delivery(j.delivery_id, 'succeeded');
    assert.equal(d.attempts[0].response_body.length, 4096);
    assert.ok(d.attempts[0].response_body.startsWith('a\uFFFDb'));
    receiver.respond({ status: 204 });
  });

  it('a replay replaces a series still retrying', async () => {
    receiver.respond({ status: 503, headers: { 'retry-after': '1' } }, { status: 204 });
    const j = job(`${receiver.url}/superseded`, { retry: { attempts: 5, delay_seconds: 0.05 } });
    await t.modules.deliveries.enqueue(j);
    await delivery(j.delivery_id, 'retrying');
    const res = await t.api('POST', `/api/webhook-deliveries/${j.delivery_id}/replay`);
    assert.equal(res.status, 202);
    const d = await delivery(j.delivery_id, 'succeeded');
    assert.equal(d.series, 2);
    // The first series' retry comes due after Retry-After and must not send again.
    const queue = t.modules.deliveries.queue();
    try {
      // Removed as it completes (a failed job would be kept, as 'failed').
      await waitFor(async () => (await queue.getJobState(j.idempotency_key)) === 'unknown', { what: 'the old series job to end' });
    } finally {
      await queue.close();
    }
    assert.equal(receiver.requestsTo('/superseded').length, 2);
  });

  it('fails at once, without retrying, what can never be sent: a bad secret, a header with a line break', async () => {
    const badSecret = 'whsec_abc';
    const j1 = job(`${receiver.url}/never`, { secret: badSecret });
    const j2 = job(`${receiver.url}/never`, { headers: { 'x-evil': 'a\r\nx-injected: 1' } });
    await t.modules.deliveries.enqueue(j1);
    await t.modules.deliveries.enqueue(j2);
    const d1 = await delivery(j1.delivery_id, 'failed');
    const d2 = await delivery(j2.delivery_id, 'failed');
    assert.equal(d1.attempts.length, 1);
    assert.match(d1.attempts[0].error, /Standard Webhooks secret/);
    assert.equal(JSON.stringify(d1).includes(badSecret), false);
    assert.equal(d2.attempts.length, 1);
    assert.match(d2.attempts[0].error, /header/i);
    assert.equal(receiver.requestsTo('/never').length, 0);
  });

  it('refuses a job that breaks the contract before it reaches the queue', async () => {
    await assert.rejects(t.modules.deliveries.enqueue({ ...job('http://127.0.0.1/x'), url: 'not a url' }), (err: unknown) => {
      assert.ok(err instanceof ReflexError);
      assert.equal(err.issues[0].path, 'url');
      return true;
    });
  });

  it('lists deliveries newest first with filters and pages', async () => {
    const all = await t.api('GET', '/api/webhook-deliveries?limit=2');
    assert.equal(all.status, 200);
    assert.equal(all.body.items.length, 2);
    assert.ok(all.body.next_cursor);
    const next = await t.api('GET', `/api/webhook-deliveries?limit=2&cursor=${all.body.next_cursor}`);
    assert.ok(next.body.items.every((d: { id: string }) => !all.body.items.some((a: { id: string }) => a.id === d.id)));
    const failed = await t.api('GET', '/api/webhook-deliveries?status=failed');
    assert.ok(failed.body.items.length >= 2 && failed.body.items.every((d: { status: string }) => d.status === 'failed'));
    const bad = await t.api('GET', '/api/webhook-deliveries?status=nope');
    assert.equal(bad.status, 400);
    assert.equal(bad.body.error.issues[0].path, 'status');
    assert.equal((await t.api('GET', `/api/webhook-deliveries/${randomUUID()}`)).status, 404);
  });
});

describe('private destinations', () => {
  let t: TestEngine;
  before(async () => {
    t = await startTestEngine({ services: ['recorder', 'webhooks', 'api'], config: { webhookAllowHosts: [] } });
  });
  after(async () => {
    await t?.cleanup();
  });

  for (const url of ['http://127.0.0.1:9/x', 'http://localhost:9/x', 'http://2130706433:9/x', 'http://0177.0.0.1:9/x', 'http://[::1]:9/x', 'http://[::ffff:127.0.0.1]:9/x']) {
    it(`refuses ${url} without the allow list, at once`, async () => {
      const j = job(url);
      await t.modules.deliveries.enqueue(j);
      const d = await waitFor(async () => {
        const res = await t.api('GET', `/api/webhook-deliveries/${j.delivery_id}`);
        return res.body?.status === 'failed' ? res.body : null;
      });
      assert.equal(d.attempts.length, 1);
      assert.match(d.attempts[0].error, /REFLEX_WEBHOOK_ALLOW_HOSTS/);
    });
  }
});
