import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import type { Service } from '../services/service.ts';
import { WebhookDeliveryJobSchema } from '../schemas/jobs.ts';
import { createWebhooksService } from '../services/webhooks/main.ts';
import { startTestEngine, waitFor, type TestEngine } from './support/harness.ts';
import { Receiver } from './support/receiver.ts';

/**
 * A webhook service killed with SIGKILL while a delivery is in flight: the delivery must be sent again,
 * with the same webhook-id, by another replica within 10 s (BullMQ's defaults took up to ~67 s).
 */

describe('a delivery in flight when its webhook service dies', () => {
  const receiver = new Receiver();
  let t: TestEngine;
  let child: ChildProcess | undefined;
  let survivor: Service | undefined;

  before(async () => {
    await receiver.start();
    t = await startTestEngine({ services: ['api'], config: { webhookAllowHosts: ['127.0.0.1'] } });
  });
  after(async () => {
    if (child?.pid && child.exitCode === null && child.signalCode === null) process.kill(-child.pid, 'SIGKILL');
    await survivor?.stop();
    await receiver.stop();
    await t?.cleanup();
  });

  it('is sent again by another replica within 10 s of the kill', async () => {
    let output = '';
    child = spawn(process.execPath, ['--import', 'tsx', 'cli/main.ts', 'start', 'webhooks'], {
      env: { ...process.env, REFLEX_NAMESPACE: t.config.namespace, REFLEX_WEBHOOK_ALLOW_HOSTS: '127.0.0.1', REFLEX_LOG_LEVEL: 'warn' },
      stdio: ['ignore', 'pipe', 'pipe'],
      detached: true,
    });
    child.stdout?.on('data', (d: Buffer) => (output += d.toString()));
    child.stderr?.on('data', (d: Buffer) => (output += d.toString()));
    await waitFor(() => output.includes('Press Ctrl-C'), { timeoutMs: 30_000, what: `the webhook service child to start (output: ${output})` });

    // The first request is held unanswered (the delivery is in flight when the process dies); the next is answered.
    receiver.respond({ status: 204, delayMs: 60_000 }, { status: 204 });
    const id = randomUUID();
    const path = `/in-flight/${id}`;
    await t.modules.deliveries.enqueue(
      WebhookDeliveryJobSchema.parse({
        delivery_id: id,
        idempotency_key: id,
        url: `${receiver.url}${path}`,
        body: '{"x":1}',
        secret: `whsec_${Buffer.from(randomUUID()).toString('base64')}`,
        timeout_seconds: 30,
      }),
    );
    await waitFor(() => receiver.requestsTo(path).length === 1, { timeoutMs: 15_000, what: 'the delivery to be in flight' });

    process.kill(-child.pid!, 'SIGKILL');
    const killedAt = Date.now();
    survivor = createWebhooksService(t.rt, t.modules);
    await survivor.start();

    await waitFor(() => receiver.requestsTo(path).length === 2, { timeoutMs: 20_000, intervalMs: 50, what: 'the delivery to be sent again' });
    const [first, second] = receiver.requestsTo(path);
    const after = second.at - killedAt;
    assert.ok(after < 10_000, `sent again ${after} ms after the kill`);
    assert.equal(second.headers['webhook-id'], first.headers['webhook-id'], 'the same webhook-id, so the receiver can drop the duplicate');
    const log = await waitFor(async () => {
      const d = (await t.api('GET', `/api/webhook-deliveries/${id}`)).body;
      return d?.status === 'succeeded' ? d : null;
    }, { what: 'the delivery log to show success' });
    assert.equal(log.attempt_count, 1, 'the crash did not spend an attempt of the receiver');
  });
});
