import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { browserMissing, launchBrowser, type TestBrowser } from './support/browser.ts';
import { startTestEngine, type TestEngine } from './support/harness.ts';

/**
 * Journey: the overview opens; a run created through the API appears on /runs within 2 s without a
 * reload; its page shows the task timeline (with the retry), the logs and the final state, live.
 */
if (browserMissing) console.log(`# dashboard browser tests skipped: ${browserMissing}`);

describe('dashboard: runs', { skip: browserMissing || undefined }, () => {
  let t: TestEngine;
  let b: TestBrowser;
  let deploymentId: string;

  before(async () => {
    t = await startTestEngine({ services: ['api', 'recorder', 'outbox', 'worker'], config: { flowsModule: 'tests/support/dashboard-flows.ts', workerHeartbeatSeconds: 1 } });
    b = await launchBrowser();
    const d = await t.api('POST', '/api/deployments', { name: 'pipe', flow: 'dash-pipeline', parameters: { step_ms: 400 } });
    assert.equal(d.status, 201);
    deploymentId = d.body.id;
  });
  after(async () => {
    await b?.close();
    await t?.cleanup();
  });

  test('the overview opens with its sections and no console error', async () => {
    const page = await b.page();
    await page.goto(`${t.url}/`);
    await page.getByRole('heading', { name: 'Overview', level: 1 }).waitFor();
    for (const name of ['Run activity', 'Late runs', 'Work pools', 'Failing automations', 'Failing webhooks']) {
      await page.getByRole('heading', { name, level: 2 }).waitFor();
    }
    await page.getByRole('img', { name: /Flow runs per time bucket/ }).waitFor();
    await page.locator('.live-live').waitFor({ timeout: 5000 });
    assert.deepEqual(page.problems, []);
    await page.context().close();
  });

  test('a run created through the API appears on /runs within 2 s, and its page follows it to Completed', async () => {
    const page = await b.page();
    await page.goto(`${t.url}/runs`);
    await page.getByRole('heading', { name: 'Flow runs' }).waitFor();
    await page.locator('.live-live').waitFor({ timeout: 5000 });

    const created = Date.now();
    const run = await t.api('POST', `/api/deployments/${deploymentId}/runs`, { parameters: { key: 'journey' } });
    assert.equal(run.status, 201);
    const id: string = run.body.id;
    await page.locator(`tr[data-run-id="${id}"]`).waitFor({ timeout: 2000 });
    assert.ok(Date.now() - created < 2000, `appeared after ${Date.now() - created} ms`);

    await page.locator(`tr[data-run-id="${id}"] a`).first().click();
    await page.getByRole('heading', { name: new RegExp(run.body.name) }).waitFor();
    // The page was never reloaded: every state below arrives through the live stream.
    await page.locator('.big-state').getByText('Completed').waitFor({ timeout: 20_000 });
    const fetch = page.locator('.tl-row[data-task="fetch-rows"]');
    await fetch.getByText(/2 attempts \(1 retry\)/).waitFor({ timeout: 5000 });
    assert.equal(await page.locator('.tl-row[data-task="score-row"]').count(), 3);
    await page.locator('.logs').getByText('fetched 3 rows').waitFor({ timeout: 5000 });
    await page.locator('.logs').getByText('source timed out, retrying').waitFor();

    await page.getByLabel('Level').selectOption('50');
    await page.locator('.logs').getByText('a sample error line').waitFor();
    await page.waitForFunction(() => !document.querySelector('.logs')?.textContent?.includes('fetched 3 rows'));

    await page.getByText('Started by a call to the API').waitFor();
    await page.locator('[data-slot="artifacts"]').waitFor();
    await page.getByRole('region', { name: 'Result' }).getByText('"total": 60').waitFor();
    assert.deepEqual(page.problems, []);
    await page.context().close();
  });

  test("a run's artifacts: a table as a table, markdown as text (its HTML inert), a link, progress", async () => {
    const d = await t.api('POST', '/api/deployments', { name: 'reporting', flow: 'dash-artifacts' });
    const run = await t.api('POST', `/api/deployments/${d.body.id}/runs`, {});
    assert.equal(run.status, 201);
    const page = await b.page();
    await page.goto(`${t.url}/runs/${run.body.id}`);
    await page.locator('.big-state').getByText('Completed').waitFor({ timeout: 20_000 });
    const table = page.getByRole('article', { name: 'Artifact regions' });
    await table.getByRole('table').waitFor();
    assert.deepEqual(await table.locator('th').allInnerTexts(), ['region', 'total']);
    assert.deepEqual(await table.locator('tbody tr').evaluateAll((rows) => rows.map((r) => [...r.querySelectorAll('td')].map((c) => c.textContent))), [['eu', '3'], ['us', '4']]);
    await table.getByText('orders by region').waitFor();
    const md = page.getByRole('article', { name: 'Artifact summary' });
    await md.locator('pre').getByText('<img src=x onerror="window.__pwned = true">', { exact: false }).waitFor();
    assert.equal(await md.locator('img').count(), 0, 'the markdown HTML is not rendered');
    assert.equal(await page.evaluate(() => (window as unknown as { __pwned?: boolean }).__pwned ?? false), false);
    const link = page.locator('[data-slot="artifacts"]').getByRole('link', { name: 'the full report' });
    assert.equal(await link.getAttribute('href'), 'https://example.com/report');
    assert.equal(await link.getAttribute('rel'), 'noopener noreferrer nofollow');
    await page.getByRole('progressbar', { name: 'Progress 60%' }).waitFor();
    assert.deepEqual(page.problems, []);
    await page.context().close();
  });

  test("a failed run's page shows its error: message and code, the stack folded", async () => {
    const d = await t.api('POST', '/api/deployments', { name: 'failing', flow: 'dash-failing' });
    const run = await t.api('POST', `/api/deployments/${d.body.id}/runs`, {});
    assert.equal(run.status, 201);
    const page = await b.page();
    await page.goto(`${t.url}/runs/${run.body.id}`);
    await page.locator('.big-state').getByText('Failed').waitFor({ timeout: 20_000 });
    const error = page.getByRole('group', { name: 'Error of the current state' });
    await error.locator('p').getByText('the warehouse refused the connection').waitFor();
    await error.locator('p').getByText('non_retriable').waitFor();
    const stack = error.locator('details');
    assert.equal(await stack.getAttribute('open'), null, 'the stack starts folded');
    assert.equal(await error.locator('pre').isVisible(), false);
    await stack.locator('summary').click();
    assert.match(await error.locator('pre').innerText(), /NonRetriableError/);
    await page.getByRole('group', { name: /Error of state Failed/ }).first().waitFor();
    assert.deepEqual(page.problems, []);
    await page.context().close();
  });
});
