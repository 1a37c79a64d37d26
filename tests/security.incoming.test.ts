import assert from 'node:assert/strict';
import { createHmac, randomBytes, randomUUID } from 'node:crypto';
import { request } from 'node:http';
import { after, before, describe, it } from 'node:test';
import { Webhook } from 'standardwebhooks';
import { startTestEngine, waitFor, type TestEngine } from './support/harness.ts';

/**
 * Incoming webhooks as an attacker uses them: a captured signed request sent again within its window, a
 * body whose bytes are not valid UTF-8, a HEAD probe, a secret nothing checks, a huge or NUL-laden body.
 */

const swSecret = `whsec_${randomBytes(24).toString('base64')}`;

describe('hostile incoming webhooks', () => {
  let t: TestEngine;
  before(async () => {
    t = await startTestEngine({ services: ['recorder', 'api'] });
  });
  after(async () => {
    await t?.cleanup();
  });

  const create = async (body: Record<string, unknown>) => {
    const res = await t.api('POST', '/api/webhooks', body);
    assert.equal(res.status, 201, JSON.stringify(res.body));
    return res.body as { id: string; slug: string };
  };
  /** Sends exact bytes (a fetch body would be re-encoded as UTF-8). */
  const send = (slug: string, method: string, body: Buffer, headers: Record<string, string>) =>
    new Promise<{ status: number; body: string }>((resolve, reject) => {
      const req = request(`${t.url}/hooks/${slug}`, { method, headers: { ...headers, 'content-length': String(body.length) } }, (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString('utf8') }));
      });
      req.on('error', reject);
      req.end(body);
    });
  const countFor = async (endpointId: string) =>
    (await t.rt.pg.query<{ n: number }>('SELECT count(*)::int AS n FROM events WHERE resource_id = $1', [`reflex.webhook.${endpointId}`])).rows[0].n;

  it('refuses a signed request replayed within its tolerance window', async () => {
    const e = await create({ name: `replay-${randomUUID()}`, secret: swSecret });
    const body = Buffer.from(JSON.stringify({ paid: 1 }));
    const id = `msg_${randomUUID()}`;
    const now = new Date();
    const headers = {
      'content-type': 'application/json',
      'webhook-id': id,
      'webhook-timestamp': String(Math.floor(now.getTime() / 1000)),
      'webhook-signature': new Webhook(swSecret).sign(id, now, body.toString()),
    };
    assert.equal((await send(e.slug, 'POST', body, headers)).status, 202);
    const copies = await Promise.all([send(e.slug, 'POST', body, headers), send(e.slug, 'POST', body, headers)]);
    assert.deepEqual(copies.map((c) => c.status), [401, 401]);
    assert.match(copies[0].body, /already received/);
    await waitFor(async () => (await countFor(e.id)) === 1, { what: 'the one accepted event stored' });
    assert.equal(await countFor(e.id), 1);
  });

  it('checks the signature over the exact bytes received, not their decoded text', async () => {
    const e = await create({ name: `bytes-${randomUUID()}`, secret: swSecret });
    // Not valid UTF-8: decoding would turn 0xff into U+FFFD and change what the signature covers.
    const body = Buffer.concat([Buffer.from('{"x":"'), Buffer.from([0xff, 0xfe]), Buffer.from('"}')]);
    const id = `msg_${randomUUID()}`;
    const ts = Math.floor(Date.now() / 1000);
    const key = Buffer.from(swSecret.slice('whsec_'.length), 'base64');
    const rightSig = createHmac('sha256', key).update(`${id}.${ts}.`).update(body).digest('base64');
    const decodedSig = new Webhook(swSecret).sign(id, new Date(ts * 1000), body.toString('utf8')).split(',')[1];
    assert.notEqual(rightSig, decodedSig, 'the two signatures differ for these bytes');
    const headers = (sig: string, msg = id) => ({ 'content-type': 'text/plain', 'webhook-id': msg, 'webhook-timestamp': String(ts), 'webhook-signature': `v1,${sig}` });
    assert.equal((await send(e.slug, 'POST', body, headers(decodedSig, `msg_${randomUUID()}`))).status, 401, 'a signature of the decoded text does not verify');
    assert.equal((await send(e.slug, 'POST', body, headers(rightSig))).status, 202, 'a signature of the bytes does');

    const gh = await create({ name: `gh-${randomUUID()}`, secret: 'gh-secret', verification: 'github' });
    const ghSig = `sha256=${createHmac('sha256', 'gh-secret').update(body).digest('hex')}`;
    assert.equal((await send(gh.slug, 'POST', body, { 'content-type': 'text/plain', 'x-hub-signature-256': ghSig })).status, 202);
  });

  it('a HEAD probe publishes nothing', async () => {
    const e = await create({ name: `head-${randomUUID()}` });
    const head = await send(e.slug, 'HEAD', Buffer.alloc(0), {});
    assert.ok(head.status === 404 || head.status === 405, `HEAD answered ${head.status}`);
    const get = await send(e.slug, 'GET', Buffer.alloc(0), {});
    assert.equal(get.status, 202);
    await waitFor(async () => (await countFor(e.id)) === 1, { what: 'the GET event stored' });
    assert.equal(await countFor(e.id), 1, 'only the GET became an event');
  });

  it('refuses a secret that nothing would check', async () => {
    const res = await t.api('POST', '/api/webhooks', { name: `none-${randomUUID()}`, secret: 'forgotten', verification: 'none' });
    assert.equal(res.status, 400);
    assert.equal(res.body.error.issues[0].path, 'secret');
  });

  it('keeps a rejected body bounded and storable whatever it holds', async () => {
    const e = await create({ name: `failed-${randomUUID()}`, template: '{"event": "{{ body.name }}", "resource": {"reflex.resource.id": "x"}}' });
    // A NUL byte (not the JSON escape) in a text body: PostgreSQL text cannot hold it.
    const nul = await send(e.slug, 'POST', Buffer.from('bad\u0000body'), { 'content-type': 'text/plain' });
    assert.equal(nul.status, 400, nul.body);
    const huge = Buffer.from(JSON.stringify({ name: 'bad name', blob: 'x'.repeat(2 * 1024 * 1024) }));
    assert.equal((await send(e.slug, 'POST', huge, { 'content-type': 'application/json' })).status, 400);
    const failed = await t.api('GET', `/api/webhooks/${e.id}/failed-requests`);
    assert.equal(failed.status, 200);
    assert.equal(failed.body.items.length, 2);
    const big = failed.body.items.find((i: { reason: string }) => /cut to its first/.test(i.reason));
    assert.ok(big, 'the huge body is cut and says so');
    assert.ok(big.body.length <= 64 * 1024);
  });
});
