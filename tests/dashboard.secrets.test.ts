import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import { browserMissing, launchBrowser, type TestBrowser } from './support/browser.ts';
import { startTestEngine, type TestEngine } from './support/harness.ts';

/** Journey: the Secrets page lists names and grants, never a value; the Variables page shows values. */
if (browserMissing) console.log(`# dashboard browser tests skipped: ${browserMissing}`);

describe('dashboard: secrets and variables', { skip: browserMissing || undefined }, () => {
  let t: TestEngine;
  let b: TestBrowser;
  const value = `tok_${randomBytes(12).toString('hex')}`;

  before(async () => {
    t = await startTestEngine({ services: ['api'], config: { secretsKey: randomBytes(32).toString('base64') } });
    b = await launchBrowser();
  });
  after(async () => {
    await b?.close();
    await t?.cleanup();
  });

  test('secrets show who may use them and never the value; variables show their JSON', async () => {
    assert.equal((await t.api('POST', '/api/secrets', { name: 'slack-url', value, description: 'alerts channel', allowed: { automations: ['notify'] } })).status, 201);
    assert.equal((await t.api('POST', '/api/variables', { name: 'threshold', value: { max: 42 } })).status, 201);
    const page = await b.page();
    await page.goto(`${t.url}/secrets`);
    await page.getByRole('heading', { name: 'Secrets' }).waitFor();
    const row = page.getByRole('row', { name: /slack-url/ });
    await row.getByText('automation notify').waitFor();
    await row.getByText('never').waitFor();
    assert.equal((await page.content()).includes(value), false);
    await page.getByRole('link', { name: 'Variables' }).click();
    await page.getByRole('heading', { name: 'Variables' }).waitFor();
    const json = await page.getByRole('group', { name: 'value of threshold' }).textContent();
    assert.deepEqual(JSON.parse(json ?? ''), { max: 42 });
  });
});
