import assert from 'node:assert/strict';
import { PassThrough } from 'node:stream';
import { describe, it } from 'node:test';
import Fastify, { type FastifyBaseLogger } from 'fastify';
import { createLogger } from '../core/log.ts';
import { LazyRequestLogger, lazyChildLoggerFactory } from '../services/api/lazy-logger.ts';

/**
 * The API's request loggers (services/api/lazy-logger.ts) make their pino child only when a request
 * logs; the lines they write are those of an ordinary child: the request id and the parent's bindings,
 * redaction and serializers.
 */
describe('request loggers', () => {
  async function app() {
    const lines: Record<string, unknown>[] = [];
    const out = new PassThrough();
    out.on('data', (c: Buffer) => lines.push(...c.toString('utf8').trim().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>)));
    const parent = createLogger({ level: 'info', destination: out }).child({ service: 'api' });
    // Each request's logger, to see whether it made its pino child.
    const loggers: LazyRequestLogger[] = [];
    const f = Fastify({ loggerInstance: parent as FastifyBaseLogger, childLoggerFactory: lazyChildLoggerFactory, disableRequestLogging: true });
    f.addHook('onRequest', async (req) => {
      assert.ok(req.log instanceof LazyRequestLogger);
      loggers.push(req.log);
    });
    f.get('/quiet', async () => ({ ok: true }));
    f.get('/loud', async (req) => {
      req.log.debug('dropped at level info');
      req.log.warn({ headers: { authorization: 'Bearer s3cret' }, n: 1 }, 'something to say');
      req.log.warn('twice');
      return { ok: true };
    });
    f.get('/fails', async () => {
      throw new Error('boom');
    });
    // As services/api/app.ts answers a 500.
    f.setErrorHandler((err, req, reply) => {
      req.log.error({ err }, 'unhandled error');
      return reply.code(500).send({ error: 'internal' });
    });
    await f.ready();
    return { f, lines, children: () => loggers.filter((l) => l.materialised).length };
  }

  it('makes no child for a request that logs nothing, nor for a level that is dropped', async () => {
    const { f, lines, children } = await app();
    for (let i = 0; i < 3; i++) assert.equal((await f.inject({ method: 'GET', url: '/quiet' })).statusCode, 200);
    assert.equal(children(), 0);
    assert.equal(lines.length, 0);
    await f.close();
  });

  it('writes what a request logs with its request id, the parent bindings and redaction, from one child', async () => {
    const { f, lines, children } = await app();
    const res = await f.inject({ method: 'GET', url: '/loud' });
    assert.equal(res.statusCode, 200);
    assert.equal(children(), 1);
    await new Promise((r) => setImmediate(r)); // the PassThrough delivers on a later turn
    assert.deepEqual(lines.map((l) => l.msg), ['something to say', 'twice']);
    for (const l of lines) {
      assert.equal(l.service, 'api');
      assert.equal(typeof l.reqId, 'string');
    }
    assert.equal(lines[0].reqId, lines[1].reqId);
    assert.deepEqual(lines[0].headers, { authorization: '[redacted]' });
    await f.close();
  });

  it('logs a failing request from the error handler as before (error serialised, with its request id)', async () => {
    const { f, lines } = await app();
    assert.equal((await f.inject({ method: 'GET', url: '/fails' })).statusCode, 500);
    await new Promise((r) => setImmediate(r));
    const line = lines.find((l) => (l.err as { message?: string } | undefined)?.message === 'boom');
    assert.ok(line, JSON.stringify(lines));
    assert.equal(typeof line.reqId, 'string');
    assert.equal(line.level, 50);
    await f.close();
  });
});
