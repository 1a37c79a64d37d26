import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { Writable } from 'node:stream';
import { loadConfig } from '../core/config.ts';
import { createLogger } from '../core/log.ts';
import { resetNamespace } from '../infra/reset.ts';
import type { ApiService } from '../services/api/main.ts';
import { startEngine, type Engine } from '../services/engine.ts';
import { testNamespace, waitFor } from './support/harness.ts';
import { PrivateRedis, skipWithout } from './support/private-services.ts';

/**
 * /api/health while Redis is down: a private redis-server (the shared one serves every other test file)
 * killed by its pid while the health endpoint is polled. Every answer must come within a second and say
 * `redis: down`; the log must carry one warning for the outage and one line for the recovery, not a line
 * (or a stack trace) per retry.
 */

interface LogLine {
  level: number;
  msg: string;
  dependency?: string;
  down_ms?: number;
  waited?: number;
  err?: { stack?: string };
}

describe('health and outage logging with Redis killed', { skip: skipWithout.redis }, () => {
  let redis: PrivateRedis | undefined;
  let engine: Engine | undefined;
  let url = '';
  const lines: LogLine[] = [];

  before(async () => {
    redis = await PrivateRedis.create();
    await redis.start();
    const config = loadConfig(process.env, { port: 0, logLevel: 'info', automationsDir: '', namespace: testNamespace('health'), redisUrl: redis.url });
    const sink = new Writable({
      write(chunk: Buffer, _enc, done) {
        for (const l of chunk.toString().split('\n').filter(Boolean)) lines.push(JSON.parse(l) as LogLine);
        done();
      },
    });
    engine = await startEngine(config, { log: createLogger({ level: 'info', destination: sink }) });
    url = (engine.services.find((s) => s.name === 'api') as ApiService).url;
  });

  after(async () => {
    try {
      if (redis && !redis.running) await redis.start().catch(() => {});
      if (engine) {
        const { bus, redis: r, pg } = engine.rt;
        for (const s of [...engine.services].reverse()) await s.stop().catch(() => {});
        await resetNamespace({ bus, redis: r, pg }).catch(() => {});
        await engine.stop();
      }
    } finally {
      await redis?.destroy();
    }
  });

  const probe = async (path: string) => {
    const started = performance.now();
    const res = await fetch(url + path);
    return { status: res.status, body: (await res.json()) as { status: string; dependencies?: Record<string, { status: string; latency_ms: number; error?: string }> }, ms: performance.now() - started };
  };

  it('answers within a second with redis down, logs the outage once and the recovery once', async () => {
    const up = await probe('/api/health');
    assert.equal(up.status, 200, JSON.stringify(up.body));
    for (const d of ['nats', 'redis', 'postgres']) assert.equal(up.body.dependencies?.[d].status, 'up');
    assert.equal((await probe('/api/health/ready')).status, 200);

    const before = lines.length;
    await (redis as PrivateRedis).kill();
    // Polled for about four seconds of outage: long enough for every reconnect loop to retry many times.
    const answers: Awaited<ReturnType<typeof probe>>[] = [];
    const until = Date.now() + 4000;
    while (Date.now() < until) answers.push(await probe('/api/health'));
    const slowest = Math.max(...answers.map((a) => a.ms));
    assert.ok(slowest < 1000, `slowest /api/health answer took ${Math.round(slowest)} ms`);
    const down = answers.filter((a) => a.status === 503);
    assert.ok(down.length >= answers.length - 2, `${down.length} of ${answers.length} answers were 503`);
    const last = answers.at(-1)!;
    assert.equal(last.body.dependencies?.redis.status, 'down');
    assert.ok(last.body.dependencies?.redis.error, 'a reason is given');
    assert.equal(last.body.dependencies?.postgres.status, 'up');
    assert.equal(last.body.dependencies?.nats.status, 'up');
    const ready = await probe('/api/health/ready');
    assert.equal(ready.status, 503);
    assert.ok(ready.ms < 1000);
    const live = await probe('/api/health/live');
    assert.equal(live.status, 200, 'liveness never depends on Redis');

    await (redis as PrivateRedis).start();
    await waitFor(async () => (await probe('/api/health')).status === 200, { timeoutMs: 20_000, what: 'health back to 200' });
    await waitFor(() => lines.slice(before).some((l) => l.dependency === 'Redis' && l.level === 30 && /back/.test(l.msg)), { timeoutMs: 10_000, what: 'the recovery line' });

    const during = lines.slice(before);
    const warnings = during.filter((l) => l.level >= 40);
    const shown = warnings.map((l) => `${l.level} ${l.msg}`).join('\n');
    const wentDown = warnings.filter((l) => l.dependency === 'Redis' && /down|unreachable/.test(l.msg));
    assert.equal(wentDown.length, 1, `one warning for the outage:\n${shown}`);
    assert.ok(warnings.length <= 2, `at most a couple of warnings in ~4 s of outage, got ${warnings.length}:\n${shown}`);
    assert.ok(!during.some((l) => l.err?.stack), 'no stack traces while Redis is down');
    const back = during.filter((l) => l.dependency === 'Redis' && l.level === 30 && /is back/.test(l.msg));
    assert.equal(back.length, 1);
    assert.ok((back[0].down_ms ?? 0) >= 3000, `down for ${back[0].down_ms} ms`);
    assert.equal(typeof back[0].waited, 'number');
  });
});
