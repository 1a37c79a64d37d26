import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { browserMissing, launchBrowser, type TestBrowser } from './support/browser.ts';
import { startTestEngine, waitFor, type TestEngine } from './support/harness.ts';

/**
 * Journey: a flow pauses for typed input (a zod schema); its run page shows what it awaits, until when, and
 * the form generated from the schema; bad values are refused at the field in the page (nothing is sent),
 * a value only the server can judge comes back as a 400 at its field, and a valid one resumes the run,
 * which the page follows live to Completed with the input as its result. A resume that lost the race
 * (409) is said as a message.
 */
if (browserMissing) console.log(`# dashboard browser tests skipped: ${browserMissing}`);

/** The browser logs every 4xx answer as a console error; the ones a test provokes on purpose are not problems. */
const unexpected = (problems: string[], status: number) => problems.filter((p) => !p.includes(`status of ${status}`));

describe('dashboard: resume form of a paused run', { skip: browserMissing || undefined }, () => {
  let t: TestEngine;
  let b: TestBrowser;
  let deploymentId: string;

  before(async () => {
    t = await startTestEngine({ services: ['api', 'recorder', 'outbox', 'worker'], config: { flowsModule: 'tests/support/dashboard-flows.ts', workerHeartbeatSeconds: 1 } });
    b = await launchBrowser();
    const d = await t.api('POST', '/api/deployments', { name: 'release', flow: 'dash-approval' });
    assert.equal(d.status, 201);
    deploymentId = d.body.id;
  });
  after(async () => {
    await b?.close();
    await t?.cleanup();
  });

  const pausedRun = async () => {
    const run = await t.api('POST', `/api/deployments/${deploymentId}/runs`, { parameters: { timeout: 600 } });
    assert.equal(run.status, 201);
    const id: string = run.body.id;
    await waitFor(async () => (await t.api('GET', `/api/flow-runs/${id}`)).body.state?.type === 'PAUSED', { timeoutMs: 20_000, what: 'the run to pause' });
    return id;
  };

  test('the form checks at the field, shows the server 400 at its field, and a valid input resumes the run to Completed', async () => {
    const id = await pausedRun();
    const wait = (await t.api('GET', `/api/flow-runs/${id}/pause`)).body;
    const page = await b.page();
    await page.goto(`${t.url}/runs/${id}`);
    const panel = page.getByRole('region', { name: 'Resume' });
    await panel.waitFor();
    await page.locator('.big-state').getByText('Paused').waitFor();
    await panel.getByText('input matching the form below').waitFor();
    assert.equal(await panel.locator('time').first().getAttribute('datetime'), wait.timeout_at, 'the timeout shown is the wait\'s');
    await panel.getByText('10m 0s').waitFor();
    // One input per property of the zod schema, labelled, the required ones said in words.
    await panel.getByLabel('approved (required)').waitFor();
    await panel.getByText('Ship this release?').waitFor();
    const limit = panel.getByLabel('limit (required)');
    const reviewers = panel.getByLabel('reviewers (required)');
    assert.equal(await panel.getByLabel('note', { exact: true }).inputValue(), 'lgtm', 'the default is prefilled');
    const order = await panel.locator('.field-label').allInnerTexts();
    assert.deepEqual(order.map((l) => l.replace(' (required)', '')), ['approved', 'limit', 'reviewers', 'note'], 'the fields in the order of the zod schema');

    // Client side: nothing is sent, the errors sit at their fields and the focus moves to the first one.
    const submit = panel.getByRole('button', { name: 'Resume run' });
    await submit.click();
    await page.locator('#input-limit-error').getByText('required').waitFor();
    assert.equal(await limit.getAttribute('aria-invalid'), 'true');
    assert.equal(await limit.getAttribute('aria-describedby'), 'input-limit-error');
    assert.equal(await page.evaluate(() => document.activeElement?.id), 'input-limit', 'focus moves to the first bad field');
    await limit.fill('500');
    await reviewers.fill('[not json');
    await submit.click();
    await page.locator('#input-limit-error').getByText('must be ≤ 100').waitFor();
    await page.locator('#input-reviewers-error').getByText('must be valid JSON').waitFor();
    await limit.fill('2.5');
    await submit.click();
    await page.locator('#input-limit-error').getByText('must be an integer').waitFor();
    const still = await t.api('GET', `/api/flow-runs/${id}/pause`);
    assert.equal(still.status, 200);
    assert.equal(still.body.outcome, null, 'nothing was submitted');

    // Server side: the page does not check the items of a list; the API does, and its issue lands at the field.
    await limit.fill('5');
    await reviewers.fill('["a"]');
    await submit.click();
    await page.locator('#input-reviewers-error').getByText(/fewer than 2 characters/).waitFor();
    assert.equal(await reviewers.getAttribute('aria-invalid'), 'true');
    assert.equal(await page.locator('#input-limit-error').count(), 0, 'the field the server accepted shows no error');
    assert.equal((await t.api('GET', `/api/flow-runs/${id}`)).body.state.type, 'PAUSED', 'a refused input leaves the run paused');

    // A valid input, submitted from the keyboard: Space ticks the box, Enter in a field submits.
    await panel.getByLabel('approved (required)').focus();
    await page.keyboard.press('Space');
    await reviewers.fill('["ana", "bo"]');
    await panel.getByLabel('note', { exact: true }).fill('');
    await panel.getByLabel('note', { exact: true }).focus();
    await page.keyboard.type('ship it');
    await page.keyboard.press('Enter');
    await page.getByRole('status').getByText('Resumed: the run is now Resumed (RUNNING).').waitFor({ timeout: 10_000 });
    // The page was never reloaded: the new states arrive through the live stream.
    await page.locator('.big-state').getByText('Completed').waitFor({ timeout: 20_000 });
    assert.equal(await page.getByRole('region', { name: 'Resume' }).count(), 0, 'the panel goes once the run is no longer paused');
    await page.getByRole('region', { name: 'State history' }).getByText('Resumed').first().waitFor();
    const expected = { approved: true, limit: 5, reviewers: ['ana', 'bo'], note: 'ship it' };
    await page.getByRole('region', { name: 'Result' }).getByText('"note": "ship it"').waitFor({ timeout: 10_000 });
    assert.deepEqual((await t.api('GET', `/api/flow-runs/${id}`)).body.result, expected);
    assert.deepEqual(unexpected(page.problems, 400), []);
    await page.context().close();
  });

  test('a resume that lost the race to another one is said as a message, and the page shows the run as it is', async () => {
    const id = await pausedRun();
    const page = await b.page();
    await page.goto(`${t.url}/runs/${id}`);
    const panel = page.getByRole('region', { name: 'Resume' });
    await panel.getByLabel('limit (required)').fill('3');
    await panel.getByLabel('reviewers (required)').fill('["cy"]');
    // Someone else resumes the run (through the API) just before the page's own request reaches the server.
    let raced = false;
    await page.route(`**/api/flow-runs/${id}/resume`, async (route) => {
      const other = await t.api('POST', `/api/flow-runs/${id}/resume`, { input: { approved: false, limit: 1, reviewers: [] } });
      raced = other.status === 200;
      await route.continue();
    });
    await panel.getByRole('button', { name: 'Resume run' }).click();
    await page.getByRole('alert').getByText(/Not resumed: flow run .* (is not paused|was already resumed)/).waitFor({ timeout: 10_000 });
    assert.ok(raced, 'the other resume went first');
    await page.locator('.big-state').getByText('Completed').waitFor({ timeout: 20_000 });
    assert.deepEqual((await t.api('GET', `/api/flow-runs/${id}`)).body.result, { approved: false, limit: 1, reviewers: [], note: 'lgtm' });
    assert.deepEqual(unexpected(page.problems, 409), []);
    await page.context().close();
  });
  test('markup in the schema (field names, titles, descriptions, enum values) is shown as text and runs nothing', async () => {
    const d = await t.api('POST', '/api/deployments', { name: 'hostile', flow: 'dash-hostile-approval' });
    const run = await t.api('POST', `/api/deployments/${d.body.id}/runs`, {});
    const id: string = run.body.id;
    await waitFor(async () => (await t.api('GET', `/api/flow-runs/${id}`)).body.state?.type === 'PAUSED', { timeoutMs: 20_000, what: 'the run to pause' });
    const page = await b.page();
    await page.goto(`${t.url}/runs/${id}`);
    const panel = page.getByRole('region', { name: 'Resume' });
    await panel.getByText('<script>window.__pwned=2</script><b>bold?</b>').waitFor();
    await panel.getByText('"><img src=x onerror="window.__pwned=1"> (required)').waitFor();
    await panel.getByText('<img src=y onerror="window.__pwned=3"> (required)').waitFor();
    assert.equal(await panel.locator('img, script, b, i').count(), 0, 'no element came from the schema');
    const field = panel.getByLabel('"><img src=x onerror="window.__pwned=1"> (required)');
    await field.fill('<b>x</b>');
    await panel.getByLabel(/<img src=y/).selectOption('<i>a</i>');
    await panel.getByRole('button', { name: 'Resume run' }).click();
    await page.locator('.big-state').getByText('Completed').waitFor({ timeout: 20_000 });
    assert.deepEqual((await t.api('GET', `/api/flow-runs/${id}`)).body.result, { '"><img src=x onerror="window.__pwned=1">': '<b>x</b>', choice: '<i>a</i>' });
    assert.equal(await page.evaluate(() => (window as unknown as { __pwned?: number }).__pwned), undefined);
    assert.deepEqual(page.problems, []);
    await page.context().close();
  });
  test('a suspended run resumed from the form is queued again (SCHEDULED/Resumed) and completes with the input', async () => {
    const d = await t.api('POST', '/api/deployments', { name: 'release-suspended', flow: 'dash-suspended-approval' });
    const run = await t.api('POST', `/api/deployments/${d.body.id}/runs`, { parameters: { timeout: 600 } });
    const id: string = run.body.id;
    await waitFor(async () => (await t.api('GET', `/api/flow-runs/${id}`)).body.state?.type === 'PAUSED', { timeoutMs: 20_000, what: 'the run to suspend' });
    const page = await b.page();
    await page.goto(`${t.url}/runs/${id}`);
    const panel = page.getByRole('region', { name: 'Resume' });
    await page.locator('.big-state').getByText('Suspended').waitFor();
    await panel.getByText(/Suspended: the worker slot was given back/).waitFor();
    await panel.getByLabel('approved (required)').check();
    await panel.getByLabel('limit (required)').fill('7');
    await panel.getByLabel('reviewers (required)').fill('["dee"]');
    await panel.getByRole('button', { name: 'Resume run' }).click();
    await page.getByRole('status').getByText('Resumed: the run is now Resumed (SCHEDULED).').waitFor({ timeout: 10_000 });
    await page.locator('.big-state').getByText('Completed').waitFor({ timeout: 20_000 });
    assert.deepEqual((await t.api('GET', `/api/flow-runs/${id}`)).body.result, { approved: true, limit: 7, reviewers: ['dee'], note: 'lgtm' });
    assert.deepEqual(page.problems, []);
    await page.context().close();
  });

});
