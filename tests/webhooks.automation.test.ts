import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { Webhook } from 'standardwebhooks';
import { createAutomation, emit } from './support/automations.ts';
import { startTestEngine, waitFor, type TestEngine } from './support/harness.ts';
import { Receiver } from './support/receiver.ts';

// The whole path a user relies on: an event fires an automation whose call-webhook action the webhook
// service delivers, signed, to a real receiver; the delivery log and the outcome event tie back to both.

describe('call-webhook end to end', () => {
  let t: TestEngine;
  const receiver = new Receiver();
  const secret = `whsec_${randomBytes(24).toString('base64')}`;

  before(async () => {
    await receiver.start();
    t = await startTestEngine({ services: ['recorder', 'automations', 'webhooks', 'api'], config: { webhookAllowHosts: ['127.0.0.1'] } });
  });
  after(async () => {
    await receiver.stop();
    await t?.cleanup();
  });

  it('delivers the triggering event as a signed CloudEvent and logs it under the automation', async () => {
    const automationId = await createAutomation(t, {
      name: 'notify',
      trigger: { type: 'event', expect: ['order.placed'] },
      actions: [
        { type: 'call-webhook', url: `${receiver.url}/orders`, format: 'cloudevent', secret },
        { type: 'call-webhook', url: `${receiver.url}/text`, body: 'order {{ event.payload.n }}', headers: { 'content-type': 'text/plain' } },
      ],
    });
    const [eventId] = await emit(t, [{ event: 'order.placed', resource: { 'reflex.resource.id': 'shop.order.7' }, payload: { n: 7 } }]);

    await waitFor(() => receiver.requestsTo('/orders').length === 1 && receiver.requestsTo('/text').length === 1, { what: 'both webhooks' });
    const [ce] = receiver.requestsTo('/orders');
    assert.equal(ce.headers['content-type'], 'application/cloudevents+json');
    const cloudEvent = new Webhook(secret).verify(ce.body, ce.headers as Record<string, string>) as Record<string, unknown>;
    assert.equal(cloudEvent.specversion, '1.0');
    assert.equal(cloudEvent.id, eventId);
    assert.equal(cloudEvent.type, 'order.placed');
    const [text] = receiver.requestsTo('/text');
    assert.equal(text.body, 'order 7');
    assert.equal(text.headers['content-type'], 'text/plain');
    assert.equal(text.headers['webhook-signature'], undefined);

    const list = await waitFor(async () => {
      const res = await t.api('GET', `/api/webhook-deliveries?automation_id=${automationId}&status=succeeded`);
      return res.body.items.length === 2 ? res.body.items : null;
    }, { what: 'two succeeded deliveries in the log' });
    for (const d of list) assert.equal(d.event_id, eventId);
    assert.deepEqual(list.map((d: { signed: boolean }) => d.signed).sort(), [false, true]);
    assert.equal(JSON.stringify(list).includes(secret), false);

    const outcome = await waitFor(async () =>
      (await t.rt.pg.query(
        "SELECT related FROM events WHERE event = 'reflex.webhook.delivery.succeeded' AND resource_id = $1",
        [`reflex.webhook-delivery.${list.find((d: { signed: boolean }) => d.signed).id}`],
      )).rows[0],
    );
    const related = JSON.stringify(outcome.related);
    assert.ok(related.includes(`reflex.automation.${automationId}`));
    assert.ok(related.includes(`reflex.event.${eventId}`));
  });
});
