import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { startTestEngine, type TestEngine } from './support/harness.ts';

const KEY = 'test-key-123';

describe('API key, health and OpenAPI', () => {
  let t: TestEngine;
  before(async () => {
    t = await startTestEngine({ services: ['api'], config: { apiKey: KEY } });
  });
  after(async () => {
    await t?.cleanup();
  });
  const event = { event: 'auth.check', resource: { 'reflex.resource.id': 'a' } };

  it('answers 401 without a key and with a wrong key, on every /api route', async () => {
    const attempts: Record<string, string>[] = [{}, { authorization: 'Bearer wrong' }, { authorization: KEY }];
    for (const headers of attempts) {
      const post = await t.api('POST', '/api/events', event, headers);
      assert.equal(post.status, 401, JSON.stringify(headers));
      assert.equal(post.body.error.code, 'unauthorized');
      assert.equal((await t.api('POST', '/api/events/filter', {}, headers)).status, 401);
      assert.equal((await t.api('GET', '/api/events/stream', undefined, headers)).status, 401);
      assert.equal((await t.api('GET', '/api/docs', undefined, headers)).status, 401);
    }
  });

  it('accepts the right bearer key', async () => {
    const auth = { authorization: `Bearer ${KEY}` };
    assert.equal((await t.api('POST', '/api/events', event, auth)).status, 202);
    assert.equal((await t.api('POST', '/api/events/filter', {}, auth)).status, 200);
  });

  it('leaves /api/health open and reports each dependency', async () => {
    const res = await t.api('GET', '/api/health');
    assert.equal(res.status, 200);
    assert.equal(res.body.status, 'ok');
    assert.equal(res.body.namespace, t.config.namespace);
    for (const dep of ['nats', 'redis', 'postgres']) assert.equal(res.body.dependencies[dep].status, 'up', dep);
  });

  it('/api/docs is an OpenAPI 3 document listing the event endpoints', async () => {
    const res = await t.api('GET', '/api/docs', undefined, { authorization: `Bearer ${KEY}` });
    assert.equal(res.status, 200);
    assert.match(res.body.openapi, /^3\./);
    assert.ok(res.body.paths['/api/events'].post, 'POST /api/events');
    assert.ok(res.body.paths['/api/events/filter'].post.requestBody, 'POST /api/events/filter');
    assert.ok(res.body.paths['/api/events/count-by'].post, 'POST /api/events/count-by');
    assert.ok(res.body.paths['/api/events/{id}'].get, 'GET /api/events/{id}');
    assert.ok(res.body.paths['/api/events/stream'].get, 'GET /api/events/stream');
    assert.equal(res.body.paths['/api/events'].post.responses['202'].content['application/json'].schema.type, 'object');
  });
});
