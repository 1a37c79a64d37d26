import assert from 'node:assert/strict';
import { Writable } from 'node:stream';
import { after, before, describe, it } from 'node:test';
import { jetstreamManager, StorageType } from '@nats-io/jetstream';
import { pino } from 'pino';
import { loadConfig } from '../core/config.ts';
import { connectNats, connectRedis } from '../infra/connections.ts';
import { checkDurability } from '../infra/durability.ts';
import { names } from '../core/names.ts';
import { resetNamespace } from '../infra/reset.ts';
import { openRuntime, type Runtime } from '../infra/runtime.ts';
import { testNamespace } from './support/harness.ts';
import { PrivateRedis, skipWithout } from './support/private-services.ts';

/**
 * At start-up the engine warns, one line each, about Redis without AOF or with an evicting
 * maxmemory-policy, and about an events stream kept in memory. A private Redis, so its settings can change.
 */

describe('start-up durability warnings', { skip: skipWithout.redis }, () => {
  let redis: PrivateRedis;
  let rt: Runtime;
  const lines: Array<{ level: number; msg: string }> = [];
  const sink = new Writable({
    write(chunk: Buffer, _enc, done) {
      for (const line of chunk.toString().split('\n').filter(Boolean)) lines.push(JSON.parse(line) as { level: number; msg: string });
      done();
    },
  });

  before(async () => {
    redis = await PrivateRedis.create();
    await redis.start();
    const config = loadConfig(process.env, { namespace: testNamespace('durable'), redisUrl: redis.url });
    // Set up with clients of its own: the engine checks once per process, at its first runtime.
    const n = names(config.namespace);
    const nc = await connectNats(config.natsUrl, 3000);
    // The stream exists before the engine starts, kept in memory, as a hand-made one might be.
    await (await jetstreamManager(nc)).streams.add({ name: n.streams.events, subjects: n.eventFilterSubjects('*'), storage: StorageType.Memory });
    await nc.close();
    const r = await connectRedis(redis.url, 3000);
    await r.config('SET', 'appendonly', 'no');
    await r.config('SET', 'maxmemory-policy', 'allkeys-lru');
    r.disconnect();
    rt = await openRuntime(config, pino({ level: 'warn' }, sink));
  });
  after(async () => {
    if (rt) {
      const { bus, redis: r, pg } = rt;
      await resetNamespace({ bus, redis: r, pg }).catch(() => {});
      await rt.close();
    }
    await redis?.destroy();
  });

  it('logs one warning line for each setting that loses acknowledged work', () => {
    const warnings = lines.filter((l) => l.level === 40).map((l) => l.msg);
    assert.equal(warnings.length, 3, warnings.join('\n'));
    assert.match(warnings[0], /^Redis maxmemory-policy is allkeys-lru: .*set maxmemory-policy noeviction$/);
    assert.match(warnings[1], /^Redis AOF is off: .*appendonly yes/);
    assert.match(warnings[2], /^JetStream stream \w+_events keeps events in memory: .*file storage$/);
  });

  it('has nothing to say about durable settings', async () => {
    await rt.redis.config('SET', 'appendonly', 'yes');
    await rt.redis.config('SET', 'maxmemory-policy', 'noeviction');
    const stream = rt.names.streams.events;
    await rt.bus.jsm.streams.delete(stream);
    await rt.bus.jsm.streams.add({ name: stream, subjects: rt.names.eventFilterSubjects('*'), storage: StorageType.File });
    assert.deepEqual(await checkDurability(rt.redis, rt.bus), []);
  });
});
