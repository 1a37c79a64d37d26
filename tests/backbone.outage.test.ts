import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { NoRespondersError, TimeoutError } from '@nats-io/nats-core';
import pg from 'pg';
import { DependencyUnavailableError } from '../core/errors.ts';
import { asDependencyUnavailable } from '../infra/unavailable.ts';
import { startTestEngine, waitFor, type TestEngine } from './support/harness.ts';
import { PrivateNats, PrivatePostgres, skipWithout } from './support/private-services.ts';

/**
 * An unavailable dependency is a fast 503 with Retry-After and the dependency named, not a request held
 * for seconds and then a 500. The shared servers serve other test files, so these kill servers of their own.
 */

const urls = { natsUrl: 'nats://127.0.0.1:4222', redisUrl: 'redis://127.0.0.1:6379', databaseUrl: 'postgres://postgres@db.internal:5433/reflex' };

describe('which errors are outages', () => {
  const socketError = (code: string, port: number) => Object.assign(new Error(`connect ${code} 127.0.0.1:${port}`), { code, syscall: 'connect', port });
  const pgError = (code: string) => Object.assign(new pg.DatabaseError('server says no', 0, 'error'), { code });
  const cases: Array<[string, unknown, string | null]> = [
    ['a NATS request timeout', new TimeoutError(), 'NATS'],
    ['JetStream not answering (no responders)', new NoRespondersError('x'), 'NATS'],
    ['connection refused on the database port', socketError('ECONNREFUSED', 5433), 'PostgreSQL'],
    ['connection refused on the Redis port', socketError('ECONNREFUSED', 6379), 'Redis'],
    ['a reset on some other port', socketError('ECONNRESET', 8080), null],
    ['Postgres starting up (57P03)', pgError('57P03'), 'PostgreSQL'],
    ['Postgres shutting down (57P01)', pgError('57P01'), 'PostgreSQL'],
    ['a connection exception (08006)', pgError('08006'), 'PostgreSQL'],
    ['a broken pooled connection', new Error('Connection terminated unexpectedly'), 'PostgreSQL'],
    ['a unique violation (23505): the request, not the server', pgError('23505'), null],
    ['a bug', new TypeError('x is not a function'), null],
  ];
  for (const [what, err, dependency] of cases) {
    it(`${what} -> ${dependency ?? 'not an outage'}`, () => {
      const result = asDependencyUnavailable(err, urls);
      assert.equal(result?.dependency ?? null, dependency);
      if (result) assert.equal(result.code, 'dependency_unavailable');
    });
  }
  it('keeps a DependencyUnavailableError as it is', () => {
    const err = new DependencyUnavailableError('Redis', 'redis://x', 'hint');
    assert.equal(asDependencyUnavailable(err, urls), err);
  });
});

const event = (id: string) => ({ id, event: 'outage.test', resource: { 'reflex.resource.id': 'outage' } });

describe('ingest while NATS is down', { skip: skipWithout.nats }, () => {
  let nats: PrivateNats | undefined;
  let t: TestEngine | undefined;
  before(async () => {
    nats = await PrivateNats.create();
    await nats.start();
    t = await startTestEngine({ services: ['api'], config: { natsUrl: nats.url } });
  });
  after(async () => {
    try {
      if (nats && !nats.running) await nats.start().catch(() => {});
      await t?.cleanup();
    } finally {
      await nats?.destroy();
    }
  });

  it('answers 503 at once, naming NATS, and 202 for the same id once NATS is back', async () => {
    const engine = t as TestEngine;
    const server = nats as PrivateNats;
    const id = randomUUID();
    await server.kill();
    // The client notices the closed socket at once; until then a request may still wait for its answer.
    const refused = await waitFor(async () => {
      const started = performance.now();
      const res = await engine.api('POST', '/api/events', event(id));
      return res.status === 503 ? { ...res, ms: performance.now() - started } : null;
    }, { timeoutMs: 15_000, what: 'a 503 from ingest' });
    assert.ok(refused.ms < 1000, `answered in ${Math.round(refused.ms)} ms`);
    assert.equal(refused.headers.get('retry-after'), '1');
    assert.equal(refused.body.error.code, 'dependency_unavailable');
    assert.equal(refused.body.error.dependency, 'NATS');
    assert.match(refused.body.error.message, /NATS/);

    await server.start();
    const accepted = await waitFor(async () => {
      const res = await engine.api('POST', '/api/events', event(id));
      return res.status === 202 ? res : null;
    }, { timeoutMs: 15_000, what: 'ingest to accept the event again' });
    assert.deepEqual(accepted.body.ids, [id]);
  });
});

describe('run creation while PostgreSQL is down', { skip: skipWithout.postgres }, () => {
  let cluster: PrivatePostgres | undefined;
  let t: TestEngine | undefined;
  before(async () => {
    cluster = await PrivatePostgres.create();
    await cluster.start();
    t = await startTestEngine({ services: ['api'], config: { databaseUrl: cluster.url } });
  });
  after(async () => {
    try {
      if (cluster && !cluster.running) await cluster.start().catch(() => {});
      await t?.cleanup();
    } finally {
      await cluster?.destroy();
    }
  });

  it('answers 503 at once, naming PostgreSQL, and creates the run once it is back', async () => {
    const engine = t as TestEngine;
    const server = cluster as PrivatePostgres;
    const dep = await engine.api<{ id: string }>('POST', '/api/deployments', { name: 'outage', flow: 'noop' });
    assert.equal(dep.status, 201, JSON.stringify(dep.body));
    await server.kill();

    const started = performance.now();
    const refused = await engine.api('POST', `/api/deployments/${dep.body.id}/runs`, {});
    const ms = performance.now() - started;
    assert.equal(refused.status, 503, JSON.stringify(refused.body));
    assert.ok(ms < 3000, `answered in ${Math.round(ms)} ms`);
    assert.equal(refused.headers.get('retry-after'), '1');
    assert.equal(refused.body.error.code, 'dependency_unavailable');
    assert.equal(refused.body.error.dependency, 'PostgreSQL');

    await server.start();
    const created = await waitFor(async () => {
      const res = await engine.api('POST', `/api/deployments/${dep.body.id}/runs`, {});
      return res.status === 201 ? res : null;
    }, { timeoutMs: 15_000, what: 'the run to be created once PostgreSQL is back' });
    assert.equal(created.body.deployment_id, dep.body.id);
  });
});
