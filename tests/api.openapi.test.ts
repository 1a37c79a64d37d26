import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import SwaggerParser from '@apidevtools/swagger-parser';
import { buildApp } from '../services/api/app.ts';
import type { ApiApp } from '../services/api/route-module.ts';
import { startTestEngine, type TestEngine } from './support/harness.ts';

/**
 * The OpenAPI document is made from the routes' own zod schemas (each route declared once), so it must be
 * a valid document describing every route, with the error envelope and the public receiver. Driven
 * through app.inject(): no socket needed.
 */

type Operation = { operationId?: string; tags?: string[]; security?: unknown[]; responses: Record<string, { content?: Record<string, { schema: { $ref?: string } }> }> };

describe('OpenAPI document and API reference', () => {
  let t: TestEngine;
  let app: ApiApp;
  let doc: { paths: Record<string, Record<string, Operation>>; components: { schemas: Record<string, unknown> } };
  before(async () => {
    t = await startTestEngine({ services: [], config: { apiKey: 'docs-key' } });
    app = await buildApp(t.rt, t.modules);
    const res = await app.inject({ method: 'GET', url: '/api/docs', headers: { authorization: 'Bearer docs-key' } });
    assert.equal(res.statusCode, 200);
    doc = res.json();
  });
  after(async () => {
    await app?.close();
    await t?.cleanup();
  });

  const operations = () => Object.entries(doc.paths).flatMap(([path, ops]) => Object.entries(ops).map(([method, op]) => ({ path, method, op })));

  it('is a valid OpenAPI 3 document', async () => {
    await SwaggerParser.validate(structuredClone(doc) as never);
  });

  it('names every operation once and tags it', () => {
    const ops = operations();
    assert.ok(ops.length >= 50, `${ops.length} operations`);
    const ids = ops.map((o) => o.op.operationId);
    assert.ok(ids.every((id) => typeof id === 'string' && /^[a-z][A-Za-z]+$/.test(id)), JSON.stringify(ops.filter((o) => !o.op.operationId).map((o) => `${o.method} ${o.path}`)));
    assert.equal(new Set(ids).size, ids.length, 'operationIds are unique');
    assert.ok(ops.every((o) => (o.op.tags ?? []).length > 0), 'every operation has a tag');
  });

  it('describes the error envelope as every operation\'s default answer', () => {
    assert.ok(doc.components.schemas.Error, 'an Error component');
    for (const { path, method, op } of operations()) {
      // Errors of the live stream are described under its own media type (text/event-stream).
      const content = op.responses.default?.content ?? {};
      const schema = (content['application/json'] ?? Object.values(content)[0])?.schema;
      assert.equal(schema?.$ref, '#/components/schemas/Error', `${method} ${path}`);
    }
  });

  it('describes the public receiver and the public health check, without the key', () => {
    const hook = doc.paths['/hooks/{slug}'];
    assert.ok(hook?.post && hook.get, 'the receiver is described');
    assert.deepEqual(hook.post.security, []);
    assert.deepEqual(doc.paths['/api/health'].get.security, []);
    assert.deepEqual(doc.paths['/api/health/live'].get.security, []);
    assert.deepEqual(doc.paths['/api/health/ready'].get.security, []);
    assert.equal(doc.paths['/api/automations'].post.security, undefined, 'others inherit the bearer requirement');
  });

  it('serves an interactive reference whose page is public while the document is not', async () => {
    const page = await app.inject({ method: 'GET', url: '/api/reference' });
    assert.ok(page.statusCode === 200 || page.statusCode === 302, `reference answered ${page.statusCode}`);
    const html = page.statusCode === 302 ? await app.inject({ method: 'GET', url: String(page.headers.location) }) : page;
    assert.match(html.body, /swagger/i);
    assert.equal((await app.inject({ method: 'GET', url: '/api/reference/json' })).statusCode, 401);
    assert.equal((await app.inject({ method: 'GET', url: '/api/docs' })).statusCode, 401);
  });
});
