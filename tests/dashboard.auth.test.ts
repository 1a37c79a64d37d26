import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { browserMissing, launchBrowser, type TestBrowser } from './support/browser.ts';
import { startTestEngine, type TestEngine } from './support/harness.ts';

const KEY = 'dashboard-auth-test-key';

/** With REFLEX_API_KEY set the dashboard shows the key prompt and nothing else until the key is given. */
describe('dashboard: API key', () => {
  let t: TestEngine;
  before(async () => {
    t = await startTestEngine({ services: ['api'], config: { apiKey: KEY } });
  });
  after(async () => t?.cleanup());

  test('the shell is public, the API and the live stream are not', async () => {
    const page = await fetch(`${t.url}/runs`);
    assert.equal(page.status, 200);
    assert.match(page.headers.get('content-security-policy') ?? '', /script-src 'self'; style-src 'self'/);
    assert.equal((await t.api('GET', '/api/flow-runs/search')).status, 401);
    assert.equal((await fetch(`${t.url}/api/live`)).status, 401);
    assert.deepEqual((await t.api('GET', '/api/session')).body, { auth_required: true, authenticated: false });
  });

  test('the key is traded for an HttpOnly, SameSite=Strict cookie; mutations by cookie need the CSRF header', async () => {
    const wrong = await t.api('POST', '/api/session', { key: 'nope' });
    assert.equal(wrong.status, 401);
    assert.equal(wrong.body.error.issues[0].path, 'key');
    assert.equal((await t.api('POST', '/api/session', { key: 42 })).status, 400);

    const ok = await t.api('POST', '/api/session', { key: KEY });
    assert.equal(ok.status, 200);
    const setCookie = ok.headers.get('set-cookie') ?? '';
    assert.match(setCookie, /^reflex_session=[\w-]+; Path=\/; HttpOnly; SameSite=Strict; Max-Age=\d+$/);
    assert.ok(!setCookie.includes(KEY), 'the cookie is not the key');
    const cookie = setCookie.split(';')[0];

    assert.equal((await t.api('GET', '/api/flow-runs/search', undefined, { cookie })).status, 200);
    assert.equal((await t.api('GET', '/api/session', undefined, { cookie })).body.authenticated, true);
    const body = { name: 'pool-by-cookie' };
    const noCsrf = await t.api('POST', '/api/work-pools', body, { cookie });
    assert.equal(noCsrf.status, 403);
    assert.equal(noCsrf.body.error.code, 'forbidden');
    assert.equal((await t.api('POST', '/api/work-pools', body, { cookie, 'x-reflex-csrf': '1', 'sec-fetch-site': 'cross-site' })).status, 403);
    assert.equal((await t.api('POST', '/api/work-pools', body, { cookie, 'x-reflex-csrf': '1', 'sec-fetch-site': 'same-origin' })).status, 201);
    assert.equal((await t.api('GET', '/api/flow-runs/search', undefined, { cookie: 'reflex_session=forged' })).status, 401);

    const live = await fetch(`${t.url}/api/live`, { headers: { cookie } });
    assert.equal(live.status, 200);
    await live.body?.cancel();

    const out = await t.api('DELETE', '/api/session', undefined, { cookie });
    assert.equal(out.status, 204);
    assert.match(out.headers.get('set-cookie') ?? '', /Max-Age=0/);
  });

  describe('in a browser', { skip: browserMissing || undefined }, () => {
    let b: TestBrowser;
    before(async () => {
      b = await launchBrowser();
    });
    after(async () => b?.close());

    test('asks for the key once, shows nothing without it, and keeps the session across reloads', async () => {
      const page = await b.page();
      await page.goto(`${t.url}/runs`);
      const input = page.getByLabel('API key');
      await input.waitFor();
      assert.equal(await page.locator('table').count(), 0);
      assert.equal(await page.getByRole('navigation', { name: 'Main' }).count(), 0);
      await input.fill('wrong-key');
      await page.getByRole('button', { name: 'Sign in' }).click();
      await page.getByText('That key is not the API key of this Reflex.').waitFor();
      await input.fill(KEY);
      await input.press('Enter');
      await page.getByRole('heading', { name: 'Flow runs' }).waitFor();
      await page.locator('.live-live').waitFor({ timeout: 5000 });
      assert.equal(await page.evaluate(() => document.cookie), '', 'the session cookie is HttpOnly');
      await page.reload();
      await page.getByRole('heading', { name: 'Flow runs' }).waitFor();
      await page.getByRole('button', { name: 'Sign out' }).click();
      await page.getByLabel('API key').waitFor();
      assert.deepEqual(page.problems.filter((p) => !/status of 40[13]/.test(p)), []);
      await page.context().close();
    });
  });
});
