import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { browserMissing, launchBrowser, type TestBrowser } from './support/browser.ts';
import { startTestEngine, type TestEngine } from './support/harness.ts';

/**
 * Journeys of the live feed: events appear without a reload, a paused feed holds them behind an "N new"
 * banner; with the stream blocked the pages fall back to polling; selected runs are cancelled together.
 */
if (browserMissing) console.log(`# dashboard browser tests skipped: ${browserMissing}`);

describe('dashboard: live feed, polling fallback, bulk cancel', { skip: browserMissing || undefined }, () => {
  let t: TestEngine;
  let b: TestBrowser;
  let deploymentId: string;
  const emit = (id: string) => t.api('POST', '/api/events', { event: 'feed.tick', resource: { 'reflex.resource.id': id }, payload: { id } });

  before(async () => {
    // No worker: runs stay SCHEDULED, so they can be cancelled.
    t = await startTestEngine({ services: ['api', 'recorder', 'outbox'] });
    b = await launchBrowser();
    deploymentId = (await t.api('POST', '/api/deployments', { name: 'idle', flow: 'noop' })).body.id;
  });
  after(async () => {
    await b?.close();
    await t?.cleanup();
  });

  test('new events appear without a reload; paused, they wait behind an "N new" banner', async () => {
    const page = await b.page();
    await page.goto(`${t.url}/events?event=feed.*`);
    await page.locator('.live-live').waitFor({ timeout: 5000 });
    await emit('tick-1');
    await page.locator('table.events').getByText('tick-1').waitFor({ timeout: 3000 });
    await page.getByRole('button', { name: 'Pause live feed' }).click();
    await emit('tick-2');
    await emit('tick-3');
    const banner = page.getByRole('button', { name: /2 new events — show/ });
    await banner.waitFor({ timeout: 5000 });
    assert.equal(await page.locator('table.events').getByText('tick-2').count(), 0, 'rows do not move while paused');
    await banner.click();
    await page.locator('table.events').getByText('tick-3').waitFor();
    await page.getByRole('link', { name: 'feed.tick' }).first().click();
    await page.getByRole('button', { name: 'Automate this' }).click();
    await page.waitForURL(/\/automations\/new\?from_event=/);
    const doc = JSON.parse(await page.getByLabel(/Automation \(JSON/).inputValue());
    assert.deepEqual(doc.trigger.expect, ['feed.tick']);
    assert.equal(doc.trigger.match['reflex.resource.id'], 'tick-3');
    assert.deepEqual(page.problems, []);
    await page.context().close();
  });

  test('without the live stream the runs page polls, and selected runs are cancelled together', async () => {
    const page = await b.page();
    await page.route('**/api/live*', (route) => route.abort());
    await page.goto(`${t.url}/runs`);
    await page.getByText('Polling (live stream unavailable)').waitFor({ timeout: 10_000 });
    const later = new Date(Date.now() + 3600e3).toISOString();
    const ids: string[] = [];
    for (let i = 0; i < 2; i++) ids.push((await t.api('POST', `/api/deployments/${deploymentId}/runs`, { scheduled_time: later })).body.id);
    for (const id of ids) await page.locator(`tr[data-run-id="${id}"]`).waitFor({ timeout: 8000 });
    for (const id of ids) await page.locator(`tr[data-run-id="${id}"] input[type=checkbox]`).check();
    await page.getByRole('button', { name: 'Cancel selected (2)' }).click();
    await page.getByText('2 run(s) cancelled.').waitFor();
    for (const id of ids) assert.equal((await t.api('GET', `/api/flow-runs/${id}`)).body.state.type, 'CANCELLED');
    assert.deepEqual(page.problems.filter((p) => !p.includes('/api/live') && !p.includes('ERR_FAILED')), []);
    await page.context().close();
  });
});
