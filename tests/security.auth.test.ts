import assert from 'node:assert/strict';
import { connect } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { keyMatches } from '../services/api/auth.ts';
import { startTestEngine, type TestEngine } from './support/harness.ts';

/**
 * The API key must guard every protected route whatever spelling of the request target reaches it. An
 * earlier check looked at the raw URL (`startsWith('/api/')`) while the router also accepts encoded
 * paths and absolute-form targets: every variant below reached a protected route with a 200.
 */

const KEY = 'auth-attack-key';

/** Sends one request with the exact request target given (no client normalises it); answers the status. */
function rawRequest(port: number, method: string, target: string, headers: Record<string, string> = {}): Promise<number> {
  return new Promise((resolve, reject) => {
    const socket = connect(port, '127.0.0.1');
    let data = '';
    socket.setTimeout(5000, () => socket.destroy(new Error(`no answer to ${method} ${target}`)));
    socket.on('data', (chunk) => {
      data += chunk.toString('latin1');
      const m = /^HTTP\/1\.1 (\d{3})/.exec(data);
      if (m) {
        resolve(Number(m[1]));
        socket.destroy();
      }
    });
    socket.on('error', reject);
    socket.on('close', () => reject(new Error(`connection closed without a status for ${method} ${target}: ${JSON.stringify(data)}`)));
    const body = method === 'GET' || method === 'DELETE' ? '' : '{}';
    const lines = [`${method} ${target} HTTP/1.1`, 'host: 127.0.0.1', 'connection: close', ...Object.entries(headers).map(([k, v]) => `${k}: ${v}`)];
    if (body) lines.push('content-type: application/json', `content-length: ${body.length}`);
    socket.write(`${lines.join('\r\n')}\r\n\r\n${body}`);
  });
}

/** Every way of writing a path that some router, proxy or parser might take for the same route. */
function spellings(path: string, port: number): string[] {
  const rest = path.slice('/api'.length); // e.g. /automations/{id}
  const parts = path.split('/').filter(Boolean);
  const out = new Set<string>([
    `/%61pi${rest}`,
    `/a%70i${rest}`,
    `/ap%69${rest}`,
    `/%61%70%69${rest}`,
    `/API${rest}`,
    `/Api${rest}`,
    `//api${rest}`,
    `/api/${rest}`,
    `/./api${rest}`,
    `/api/.${rest}`,
    `/x/../api${rest}`,
    `/api/x/..${rest}`,
    `/%2e/api${rest}`,
    `/api%2F${rest.slice(1)}`,
    `${path}/`,
    `${path}?`,
    `${path}#x`,
    `${path};x`,
    `http://x${path}`,
    `http://127.0.0.1:${port}${path}`,
    `HTTP://X${path}`,
    `http://x/%61pi${rest}`,
  ]);
  // Each later segment encoded too: the router decodes all of them.
  if (parts.length > 1) {
    const last = parts[parts.length - 1];
    out.add(`/${parts.slice(0, -1).join('/')}/%${last.charCodeAt(0).toString(16)}${last.slice(1)}`);
  }
  return [...out];
}

describe('API key on every route (attack)', () => {
  let t: TestEngine;
  let routes: { method: string; path: string }[] = [];
  let port = 0;
  before(async () => {
    t = await startTestEngine({ services: ['api'], config: { apiKey: KEY } });
    port = Number(new URL(t.url).port);
    const docs = await t.api('GET', '/api/docs', undefined, { authorization: `Bearer ${KEY}` });
    assert.equal(docs.status, 200);
    for (const [path, ops] of Object.entries(docs.body.paths as Record<string, Record<string, unknown>>)) {
      for (const method of Object.keys(ops)) {
        routes.push({ method: method.toUpperCase(), path: path.replace(/\{[^}]+\}/g, '0190f2b4-1f5e-7c3a-9a0b-1234567890ab') });
      }
    }
    // Public by design: the health check and its Kubernetes probes (/api/health/live, /ready), and the dashboard's
    // session (how a browser without the key learns it needs one).
    const PUBLIC = ['/api/health', '/api/health/live', '/api/health/ready', '/api/session'];
    routes = routes.filter((r) => r.path.startsWith('/api/') && !PUBLIC.includes(r.path));
  });
  after(async () => {
    await t?.cleanup();
  });

  it('the document lists the routes the attack is tried on', () => {
    assert.ok(routes.length >= 40, `only ${routes.length} routes documented`);
  });

  it('refuses every protected route under every spelling of its path, without the key', async () => {
    const leaks: string[] = [];
    let tried = 0;
    for (const r of routes) {
      for (const target of [r.path, ...spellings(r.path, port)]) {
        for (const headers of [{}, { authorization: 'Bearer wrong' }, { authorization: KEY }] as Record<string, string>[]) {
          const status = await rawRequest(port, r.method, target, headers);
          tried += 1;
          // 400: the HTTP parser refused the target itself. Anything else but 401 is a leak.
          if (status !== 401 && status !== 400) leaks.push(`${r.method} ${target} ${JSON.stringify(headers)} -> ${status}`);
        }
      }
    }
    assert.ok(tried > 1000, `tried ${tried}`);
    assert.deepEqual(leaks, []);
  });

  it('the same spellings with the key reach the route (the check is on the route, not the text)', async () => {
    const status = await rawRequest(port, 'GET', `/%61pi/automations`, { authorization: `Bearer ${KEY}` });
    assert.equal(status, 200);
    assert.equal(await rawRequest(port, 'GET', `http://x/api/automations`, { authorization: `Bearer ${KEY}` }), 200);
  });

  it('unknown paths are refused without the key, so probing learns nothing', async () => {
    assert.equal(await rawRequest(port, 'GET', '/nothing-here'), 401);
    assert.equal(await rawRequest(port, 'GET', '/api/nothing-here'), 401);
  });

  it('health and incoming webhooks stay public', async () => {
    assert.equal(await rawRequest(port, 'GET', '/api/health'), 200);
    assert.equal(await rawRequest(port, 'GET', '/%61pi/health'), 200);
    // An unknown slug: the receiver route answers (404), not the key check.
    assert.equal(await rawRequest(port, 'POST', '/hooks/unknown-slug'), 404);
  });

  it("the dashboard's shell and session stay public, and hold no data", async () => {
    // The shell is a static page (no API data in it) and is left out of the OpenAPI document.
    for (const path of ['/', '/runs', '/runs/0190f2b4-1f5e-7c3a-9a0b-1234567890ab', '/%72uns']) assert.equal(await rawRequest(port, 'GET', path), 200, path);
    assert.equal(await rawRequest(port, 'GET', '/api/session'), 200);
    assert.equal(await rawRequest(port, 'GET', '/runs-and-more'), 401, 'a page path is matched exactly, not by prefix');
    assert.equal(await rawRequest(port, 'GET', '/assets/nothing.js'), 404);
  });

  it('compares keys in constant time whatever their lengths', () => {
    assert.equal(keyMatches('Bearer a', 'Bearer a'), true);
    assert.equal(keyMatches('Bearer a', 'Bearer ab'), false);
    assert.equal(keyMatches(undefined, 'Bearer a'), false);
    assert.equal(keyMatches('', 'Bearer a'), false);
  });
});
