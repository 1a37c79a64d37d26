import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { browserMissing, launchBrowser, type TestBrowser } from './support/browser.ts';
import { startTestEngine, type TestEngine } from './support/harness.ts';

/** Journey: a deployment's run form, generated from its parameter_schema, checks fields before submitting. */
if (browserMissing) console.log(`# dashboard browser tests skipped: ${browserMissing}`);

describe('dashboard: deployment run form', { skip: browserMissing || undefined }, () => {
  let t: TestEngine;
  let b: TestBrowser;

  before(async () => {
    t = await startTestEngine({ services: ['api', 'outbox'] });
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
});
