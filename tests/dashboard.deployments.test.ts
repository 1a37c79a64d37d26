import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { browserMissing, launchBrowser, type TestBrowser } from './support/browser.ts';
import { startTestEngine, waitFor, type TestEngine } from './support/harness.ts';
import { systemEvent } from '../core/events.ts';
import { EventNames, resourceId } from '../core/names.ts';

/** Journey: a deployment's run form, generated from its parameter_schema, checks fields before submitting. */
if (browserMissing) console.log(`# dashboard browser tests skipped: ${browserMissing}`);

describe('dashboard: deployment run form', { skip: browserMissing || undefined }, () => {
  let t: TestEngine;
  let b: TestBrowser;

  before(async () => {
    t = await startTestEngine({ services: ['api', 'outbox', 'recorder'] });
    b = await launchBrowser();
  });
  after(async () => {
    await b?.close();
    await t?.cleanup();
  });

  test('errors show at the field; a valid form creates the run; pause and resume', async () => {
    const d = await t.api('POST', '/api/deployments', {
      name: 'report',
      flow: 'noop',
      schedules: [{ cron: '0 6 * * *', timezone: 'Europe/Berlin' }],
      parameter_schema: {
        type: 'object',
        properties: { date: { type: 'string', pattern: '^\\d{4}-\\d{2}-\\d{2}$' }, limit: { type: 'integer', minimum: 1 }, mode: { type: 'string', enum: ['full', 'delta'] } },
        required: ['date'],
      },
    });
    assert.equal(d.status, 201);
    const page = await b.page();
    await page.goto(`${t.url}/deployments/${d.body.id}`);
    await page.getByText('cron 0 6 * * * (Europe/Berlin)').waitFor();
    const date = page.locator('#param-date');
    await page.getByRole('button', { name: 'Run', exact: true }).click();
    await page.locator('#param-date-error').getByText('required').waitFor();
    assert.equal(await date.getAttribute('aria-invalid'), 'true');
    assert.equal(await page.evaluate(() => document.activeElement?.id), 'param-date', 'focus moves to the first bad field');
    await date.fill('yesterday');
    await page.locator('#param-limit').fill('0');
    await page.getByRole('button', { name: 'Run', exact: true }).click();
    await page.locator('#param-date-error').getByText(/must match/).waitFor();
    await page.locator('#param-limit-error').getByText('must be ≥ 1').waitFor();
    assert.equal((await t.api('GET', `/api/flow-runs/search?deployment_id=${d.body.id}`)).body.items.length, 0, 'nothing was submitted');

    await date.fill('2026-11-30');
    await page.locator('#param-limit').fill('5');
    await page.locator('#param-mode').selectOption('delta');
    await page.getByRole('button', { name: 'Run', exact: true }).click();
    await page.waitForURL(/\/runs\/[0-9a-f-]{36}$/);
    const runId = page.url().split('/').pop() as string;
    assert.deepEqual((await t.api('GET', `/api/flow-runs/${runId}`)).body.parameters, { date: '2026-11-30', limit: 5, mode: 'delta' });

    await page.goto(`${t.url}/deployments/${d.body.id}`);
    await page.getByRole('button', { name: 'Pause' }).click();
    await page.getByRole('button', { name: 'Resume' }).waitFor();
    assert.equal((await t.api('GET', `/api/deployments/${d.body.id}`)).body.paused, true);
    assert.deepEqual(page.problems, []);
    await page.context().close();
  });

  test('run control reads in words: priority, the concurrency key, each SLA with its verdict', async () => {
    const d = await t.api('POST', '/api/deployments', {
      name: 'billing',
      flow: 'noop',
      concurrency_limit: 5,
      concurrency: { key: '{{ parameters.customer }}', limit: 2, burst: 1, collision: 'cancel-new' },
      priority: 10,
      slas: [{ type: 'time-to-completion', seconds: 600 }, { type: 'freshness', seconds: 5400, event: 'orders.exported' }],
    });
    assert.equal(d.status, 201, JSON.stringify(d.body));
    // The scheduler's SLA check would announce this; published here so the verdict does not wait on time.
    const resource = { 'reflex.resource.id': resourceId('deployment', d.body.id), 'reflex.resource.name': 'billing' };
    const violated = systemEvent(EventNames.slaViolated, resource, { payload: { sla: { type: 'freshness' }, sla_index: 1, since: '2026-12-01T08:00:00.000Z', detail: 'no completed run since orders.exported' } });
    await t.rt.bus.publish(violated);
    await waitFor(async () => (await t.api('GET', `/api/events/${violated.id}`)).status === 200, { what: 'the SLA event recorded' });

    const page = await b.page();
    await page.goto(`${t.url}/deployments/${d.body.id}`);
    await page.getByText('10: higher runs first within work pool default').waitFor();
    await page.getByText('At most 2 runs at once per key {{ parameters.customer }}, up to 3 while the deployment-wide limit (5) has room and no other key waits below its floor; a run over the limit is cancelled.').waitFor();
    const slas = page.locator('ul.slas > li');
    await slas.nth(0).getByText('Each run ends within 10 min of starting to run.').waitFor();
    await slas.nth(0).getByText('no verdict yet').waitFor();
    await slas.nth(1).getByText('After each orders.exported event, a run completes within 1 h 30 min.').waitFor();
    await slas.nth(1).getByText('✗ Violated').waitFor();
    await slas.nth(1).getByText(/no completed run since orders.exported/).waitFor();
    assert.deepEqual(page.problems, []);
    await page.context().close();
  });
});
