import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { Webhook } from 'standardwebhooks';
import { createAutomation, waitLoaded } from './support/automations.ts';
import { browserMissing, launchBrowser, type TestBrowser } from './support/browser.ts';
import { startTestEngine, waitFor, type TestEngine } from './support/harness.ts';
import { Receiver } from './support/receiver.ts';

/**
 * Journey: write an automation in the editor, see the schema's error at its field, dry-run it on pasted
 * events, save it; emit an event and follow the firing to the delivery it made; replay the delivery.
 */
if (browserMissing) console.log(`# dashboard browser tests skipped: ${browserMissing}`);

const SECRET = `whsec_${Buffer.from('dashboard-test-secret-0123456789').toString('base64')}`;

describe('dashboard: automations and deliveries', { skip: browserMissing || undefined }, () => {
  let t: TestEngine;
  let b: TestBrowser;
  const receiver = new Receiver();

  before(async () => {
    await receiver.start();
    t = await startTestEngine({ services: ['api', 'recorder', 'automations', 'webhooks', 'outbox'], config: { webhookAllowHosts: ['127.0.0.1'] } });
    b = await launchBrowser();
  });
  after(async () => {
    await b?.close();
    await t?.cleanup();
    await receiver.stop();
  });

  test('create in the editor, validation at the field, dry run, save, fire, follow to the delivery, replay', async () => {
    const page = await b.page();
    await page.goto(`${t.url}/automations/new`);
    const editor = page.getByLabel(/Automation \(JSON/);
    await editor.waitFor();
    const doc = {
      name: 'order-hook',
      trigger: { type: 'event', expect: ['order.created'], threshold: -1, within: 0 },
      actions: [{ type: 'call-webhook', url: `${receiver.url}/orders`, secret: SECRET }],
    };
    await editor.fill(JSON.stringify(doc, null, 2));
    await page.getByRole('button', { name: 'Validate' }).click();
    const issue = page.locator('[data-path="trigger.threshold"]');
    await issue.waitFor();
    assert.match(await issue.innerText(), /trigger\.threshold.*line \d+/s);
    assert.equal(await editor.getAttribute('aria-invalid'), 'true');

    doc.trigger.threshold = 2;
    await editor.fill(JSON.stringify(doc, null, 2));
    await page.getByRole('button', { name: 'Validate' }).click();
    await page.getByText('The document is valid.').waitFor();

    const event = (n: number) => ({ event: 'order.created', resource: { 'reflex.resource.id': `order-${n}` }, payload: { n } });
    await page.getByLabel(/Events to evaluate/).fill(JSON.stringify([event(1)]));
    await page.getByRole('button', { name: 'Dry run' }).click();
    await page.getByText('count 1, needs 2').waitFor();
    await page.getByText('It would not fire.').waitFor();
    await page.getByLabel(/Events to evaluate/).fill(JSON.stringify([event(1), event(2)]));
    await page.getByRole('button', { name: 'Dry run' }).click();
    await page.getByRole('region', { name: 'Dry-run result' }).getByText('call-webhook').waitFor();

    await page.getByRole('button', { name: 'Create' }).click();
    await page.waitForURL(/\/automations\/[0-9a-f-]{36}$/);
    const automationId = page.url().split('/').pop() as string;
    await page.getByRole('heading', { name: 'Firing history' }).waitFor();
    await page.getByText('No firings in this range.').waitFor();

    const created = (await t.api('GET', `/api/automations/${automationId}`)).body;
    await waitLoaded([t], automationId, created.updated);
    const posted = await t.api('POST', '/api/events', [event(3), event(4)]);
    assert.equal(posted.status, 202);
    const firing = page.locator('[data-firing-id]').first();
    await firing.waitFor({ timeout: 10_000 });
    await firing.getByRole('link', { name: 'order.created (order-4)' }).waitFor();
    const deliveryLink = firing.getByRole('link', { name: /^delivery / });
    await deliveryLink.waitFor({ timeout: 10_000 });
    await deliveryLink.click();

    await page.getByRole('heading', { name: 'Delivery', level: 1 }).waitFor();
    await page.getByText(/Series 1, attempt 1/).waitFor({ timeout: 10_000 });
    await page.getByRole('region', { name: 'Attempts' }).getByText(/20[04] in/).waitFor();
    const signature = page.getByLabel('Signature headers');
    await signature.getByText('webhook-signature').waitFor();
    assert.ok((await signature.innerText()).includes('v1,********'), 'signature masked');
    assert.ok(!(await page.content()).includes(SECRET.slice(6)), 'the secret never reaches the page');
    assert.equal(receiver.requestsTo('/orders').length, 1);

    await page.getByRole('button', { name: 'Replay' }).click();
    await page.getByText(/Series 2, attempt 1/).waitFor({ timeout: 10_000 });
    await waitFor(() => receiver.requestsTo('/orders').length === 2, { what: 'the replayed request' });
    const sent = receiver.requestsTo('/orders')[1];
    const shownTimestamp = await page.locator('.attempts > li').nth(1).getByLabel('Request headers').innerText();
    assert.ok(shownTimestamp.includes(`"webhook-timestamp": "${sent.headers['webhook-timestamp']}"`), 'the headers shown are the ones sent');

    // The editor shows the API's mask, never the stored secret, and saving the unchanged action keeps it:
    // the next delivery is still signed with the secret.
    await page.goto(`${t.url}/automations/${automationId}`);
    const stored = page.getByLabel(/Automation \(JSON/);
    await stored.waitFor();
    const shown = await stored.inputValue();
    assert.ok(!shown.includes(SECRET.slice(6)), 'secret hidden in the editor');
    assert.ok(shown.includes('"secret": "********"'), 'the mask in its place');
    await page.getByText(/leave it to keep the stored secret/).waitFor();
    await page.getByRole('button', { name: 'Save' }).click();
    await page.getByText('Saved.').waitFor();
    const saved = (await t.api('GET', `/api/automations/${automationId}`)).body;
    assert.notEqual(saved.updated, created.updated);
    await waitLoaded([t], automationId, saved.updated);
    assert.equal((await t.api('POST', '/api/events', [event(5), event(6)])).status, 202);
    const resigned = await waitFor(() => receiver.requestsTo('/orders')[2], { what: 'a delivery after the save' });
    const headers = Object.fromEntries(Object.entries(resigned.headers).map(([k, v]) => [k, String(v)]));
    assert.doesNotThrow(() => new Webhook(SECRET).verify(resigned.body, headers), 'signed with the stored secret');

    await page.goto(`${t.url}/automations`);
    const toggle = page.getByRole('switch', { name: 'Enabled: order-hook' });
    assert.equal(await toggle.getAttribute('aria-checked'), 'true');
    await toggle.press('Enter');
    await page.waitForFunction(() => document.querySelector('[role=switch]')?.getAttribute('aria-checked') === 'false');
    assert.equal((await t.api('GET', `/api/automations/${automationId}`)).body.enabled, false);
    // The browser logs the validation answers (400) the journey asked for; nothing else may go wrong.
    assert.deepEqual(page.problems.filter((p) => !p.includes('status of 400')), []);
    await page.context().close();
  });

  test('flow control reads in words, in the editor and on each firing', async () => {
    const id = await createAutomation(t, {
      name: 'throttled',
      trigger: { type: 'event', expect: ['invoice.sent'] },
      flow_control: { rate_limit: { key: '{{ event.payload.customer }}', limit: 1, period: 3600 } },
    }, [t]);
    const send = (n: number) => ({ event: 'invoice.sent', resource: { 'reflex.resource.id': `invoice-${n}` }, payload: { customer: 'acme' } });
    assert.equal((await t.api('POST', '/api/events', [send(1), send(2)])).status, 202);
    const page = await b.page();
    await page.goto(`${t.url}/automations/${id}`);
    await page.getByText('Rate limit per key {{ event.payload.customer }}: at most 1 per 1 h; the excess is dropped and recorded as rate-limited.').waitFor();
    // One firing passed and one was dropped: each says what flow control did, for which key.
    await page.locator('[data-firing-id]').nth(1).waitFor({ timeout: 10_000 });
    await page.locator('.flow-control').getByText(/^Flow control: Rate limit on key acme: within 1 per 3600s$/).waitFor();
    await page.locator('.flow-control').getByText(/^Flow control: Rate limit on key acme: rate limit: 1 per 3600s reached/).waitFor();
    assert.deepEqual(page.problems, []);
    await page.context().close();
  });
});
