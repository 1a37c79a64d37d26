import assert from 'node:assert/strict';
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { axeScan, browserMissing, launchBrowser, type TestBrowser } from './support/browser.ts';
import { seedDashboard, type Seeded } from './support/dashboard-seed.ts';
import { startTestEngine, type TestEngine } from './support/harness.ts';
import { Receiver } from './support/receiver.ts';

/**
 * Every page of a seeded namespace, in the light and the dark theme: an axe-core scan finds no serious or
 * critical violation, nothing is requested from another host, and no script error happens. With
 * REFLEX_DASHBOARD_SCREENSHOTS=<dir> it also writes the screenshots of docs/dashboard.md there.
 */
if (browserMissing) console.log(`# dashboard browser tests skipped: ${browserMissing}`);

const SHOTS = process.env.REFLEX_DASHBOARD_SCREENSHOTS;

describe('dashboard: accessibility of every page', { skip: browserMissing || undefined }, () => {
  let t: TestEngine;
  let b: TestBrowser;
  let seed: Seeded;
  const receiver = new Receiver();

  before(async () => {
    // Screenshots show the worker's host: a made-up one, so no committed picture names a real machine.
    if (SHOTS) process.env.HOSTNAME = 'worker-7f9c';
    await receiver.start();
    t = await startTestEngine({
      services: ['api', 'recorder', 'automations', 'webhooks', 'outbox', 'worker'],
      config: { flowsModule: 'tests/support/dashboard-flows.ts', workerHeartbeatSeconds: 1, webhookAllowHosts: ['127.0.0.1'] },
    });
    seed = await seedDashboard(t, receiver);
    b = await launchBrowser();
    if (SHOTS) await mkdir(SHOTS, { recursive: true });
  });
  after(async () => {
    await seed?.lease.release();
    await b?.close();
    await t?.cleanup();
    await receiver.stop();
  });

  const pages = (): Array<{ name: string; path: string; ready: string }> => [
    { name: 'overview', path: '/', ready: 'svg[aria-label^="Flow runs per time bucket"] rect.bar' },
    { name: 'runs', path: '/runs', ready: 'tr[data-run-id]' },
    { name: 'run', path: `/runs/${seed.runId}`, ready: '.tl-row' },
    { name: 'run-failed', path: `/runs/${seed.failedRunId}`, ready: '.run-error' },
    { name: 'run-paused', path: `/runs/${seed.pausedRunId}`, ready: '#input-approved' },
    { name: 'deployments', path: '/deployments', ready: 'tbody tr' },
    { name: 'deployment', path: `/deployments/${seed.deploymentId}`, ready: '#param-date' },
    { name: 'work-pools', path: '/work-pools', ready: 'table tbody tr' },
    { name: 'events', path: `/events?id=${seed.eventId}`, ready: 'table.events tbody tr' },
    { name: 'automations', path: '/automations', ready: '[role=switch]' },
    { name: 'automation', path: `/automations/${seed.automationId}`, ready: '[data-firing-id]' },
    { name: 'automation-new', path: '/automations/new', ready: 'textarea' },
    { name: 'deliveries', path: '/deliveries', ready: 'tbody tr' },
    { name: 'delivery', path: `/deliveries/${seed.deliveryId}`, ready: '.attempts > li' },
    { name: 'concurrency', path: '/concurrency', ready: 'meter' },
  ];

  for (const scheme of ['light', 'dark'] as const) {
    test(`no serious or critical axe violation on any page (${scheme})`, async () => {
      const page = await b.page({ colorScheme: scheme });
      const foreign: string[] = [];
      page.on('request', (r) => {
        if (!r.url().startsWith(t.url) && !r.url().startsWith('data:')) foreign.push(r.url());
      });
      const found: string[] = [];
      for (const p of pages()) {
        await page.goto(`${t.url}${p.path}`);
        await page.locator(p.ready).first().waitFor({ timeout: 15_000 });
        await page.locator('.live-live').waitFor({ timeout: 5000 });
        if (SHOTS && (scheme === 'light' || p.name === 'overview' || p.name === 'run')) {
          await page.screenshot({ path: join(SHOTS, `${p.name}${scheme === 'dark' ? '-dark' : ''}.png`) });
        }
        for (const v of await axeScan(page)) {
          if (v.impact === 'serious' || v.impact === 'critical') found.push(`${p.name}: ${v.id} (${v.impact}) ${v.help} at ${JSON.stringify(v.nodes.map((n) => n.target))}`);
        }
      }
      assert.deepEqual(found, []);
      assert.deepEqual(foreign, [], 'no request to another host');
      assert.deepEqual(page.problems, []);
      await page.context().close();
    });
  }

  test('every action of the runs page works from the keyboard', async () => {
    const page = await b.page();
    await page.goto(`${t.url}/runs`);
    await page.locator('tr[data-run-id]').first().waitFor();
    // Tab from the top reaches the state filter, and choosing Failed by keys filters the list.
    await page.keyboard.press('Tab');
    await page.keyboard.press('Enter'); // the skip link moves focus to the content
    const state = page.getByLabel('State');
    await state.focus();
    await state.selectOption('FAILED');
    await page.waitForURL(/state=FAILED/);
    // Wait for the filtered list, not the rows of the previous one.
    await page.waitForFunction(() => {
      const rows = [...document.querySelectorAll('tr[data-run-id]')];
      return rows.length > 0 && rows.every((r) => r.textContent?.includes('Failed'));
    });
    const link = page.locator('tr[data-run-id] a').first();
    await link.focus();
    await page.keyboard.press('Enter');
    await page.getByRole('button', { name: 'Set state…' }).waitFor();
    assert.ok(page.url().includes('/runs/'));
    assert.deepEqual(page.problems, []);
    await page.context().close();
  });
});
