import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { after, describe, it } from 'node:test';
import { loadConfig } from '../core/config.ts';
import { createLogger } from '../core/log.ts';
import { openRuntime } from '../infra/runtime.ts';
import { startTestEngine, testNamespace, waitFor } from './support/harness.ts';

const ROOT = new URL('..', import.meta.url).pathname;

interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
  ms: number;
}

/** Runs the CLI as a user would (through tsx), with extra environment variables. */
function cli(args: string[], env: Record<string, string> = {}): { child: ChildProcess; done: Promise<Run>; output: () => string } {
  const started = Date.now();
  const child = spawn(process.execPath, ['--import', 'tsx', 'cli/main.ts', ...args], {
    cwd: ROOT,
    env: { ...process.env, REFLEX_LOG_LEVEL: 'warn', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  child.stdout!.on('data', (d) => (stdout += d));
  child.stderr!.on('data', (d) => (stderr += d));
  const done = new Promise<Run>((resolve) => child.on('close', (code) => resolve({ code, stdout, stderr, ms: Date.now() - started })));
  return { child, done, output: () => stdout + stderr };
}

describe('reflex CLI', () => {
  const namespaces: string[] = [];
  after(async () => {
    for (const ns of namespaces) await cli(['reset', '--namespace', ns, '--yes']).done;
  });

  for (const [dependency, variable, url] of [
    ['NATS', 'REFLEX_NATS_URL', 'nats://127.0.0.1:1'],
    ['Redis', 'REFLEX_REDIS_URL', 'redis://127.0.0.1:1'],
    ['PostgreSQL', 'REFLEX_DATABASE_URL', 'postgres://postgres@127.0.0.1:1/reflex'],
  ] as const) {
    it(`start fails fast with one clear line when ${dependency} is unreachable`, async () => {
      const ns = testNamespace('cli');
      namespaces.push(ns);
      const run = await cli(['start'], { REFLEX_NAMESPACE: ns, REFLEX_PORT: '0', [variable]: url }).done;
      assert.notEqual(run.code, 0);
      assert.ok(run.ms < 10_000, `took ${run.ms} ms`);
      const lines = run.stderr.trim().split('\n');
      assert.equal(lines.length, 1, run.stderr);
      assert.match(lines[0], new RegExp(`cannot reach ${dependency} at ${url.replace(/[/.]/g, '\\$&')}`));
      assert.match(lines[0], /docker compose up -d/);
      assert.match(lines[0], new RegExp(variable));
      assert.doesNotMatch(run.stderr, /\n\s+at /, 'no stack trace');
    });
  }

  it('start runs every service, prints the real URL and stops cleanly on SIGINT', async () => {
    const ns = testNamespace('cli');
    namespaces.push(ns);
    const run = cli(['start'], { REFLEX_NAMESPACE: ns, REFLEX_PORT: '0' });
    await waitFor(() => run.output().includes('Press Ctrl-C'), { timeoutMs: 60_000, what: 'start-up banner' });
    const url = /API: (http:\/\/127\.0\.0\.1:\d+)\/api/.exec(run.output())?.[1];
    assert.ok(url && !url.endsWith(':0'), run.output());
    for (const service of ['recorder', 'api']) assert.match(run.output(), new RegExp(`\\n  ${service} `));
    const health = await fetch(`${url}/api/health`);
    assert.equal(health.status, 200);
    run.child.kill('SIGINT');
    const result = await run.done;
    assert.match(result.stdout, /stopped cleanly/);
    assert.equal(result.code, 0, result.stderr);
  });

  it('reset deletes the stream, the Postgres schema and the Redis keys of a namespace, and nothing else', async () => {
    const ns = testNamespace('cli');
    const other = await startTestEngine({ services: [] });
    try {
      const config = loadConfig(process.env, { namespace: ns });
      const rt = await openRuntime(config, createLogger({ level: 'silent' }));
      try {
        await rt.redis.set(rt.names.keys.heartbeat('probe'), '1');
        await rt.bus.publish({ id: randomUUID(), occurred: new Date().toISOString(), event: 'reset.probe', resource: { 'reflex.resource.id': 'p' }, related: [], payload: {} });
        await other.rt.redis.set(other.rt.names.keys.heartbeat('probe'), '1');

        const run = await cli(['reset', '--namespace', ns, '--yes']).done;
        assert.equal(run.code, 0, run.stderr);
        assert.match(run.stdout, new RegExp(`namespace "${ns}" reset`));

        await assert.rejects(rt.bus.jsm.streams.info(rt.names.streams.events), /not found/);
        const schema = await rt.pg.query('SELECT 1 FROM pg_namespace WHERE nspname = $1', [ns]);
        assert.equal(schema.rowCount, 0);
        assert.equal(await rt.redis.exists(rt.names.keys.heartbeat('probe')), 0);
        // The other namespace is untouched.
        assert.equal(await other.rt.redis.exists(other.rt.names.keys.heartbeat('probe')), 1);
        await other.rt.bus.jsm.streams.info(other.rt.names.streams.events);
      } finally {
        await rt.close();
      }
      const refused = await cli(['reset', '--namespace', ns]).done;
      assert.equal(refused.code, 1);
      assert.match(refused.stderr, /--yes/);
    } finally {
      await other.cleanup();
    }
  });

  it('events emit and events tail talk to the API', async () => {
    const t = await startTestEngine({ services: ['api'], config: { apiKey: 'cli-key' } });
    try {
      const env = { REFLEX_API_URL: t.url, REFLEX_API_KEY: 'cli-key' };
      const tail = cli(['events', 'tail', '--event', 'cli.*', '--json'], env);
      await waitFor(() => tail.output().includes('following'), { timeoutMs: 30_000, what: 'tail connected' });
      const emit = await cli(['events', 'emit', 'cli.hello', '--resource', 'cli-1', '--label', 'region=eu', '--payload', '{"n":1}'], env).done;
      assert.equal(emit.code, 0, emit.stderr);
      const id = emit.stdout.trim();
      const line = await waitFor(() => tail.output().split('\n').find((l) => l.startsWith('{')), { timeoutMs: 10_000, what: 'tailed event' });
      const event = JSON.parse(line);
      assert.equal(event.id, id);
      assert.deepEqual(event.resource, { 'reflex.resource.id': 'cli-1', region: 'eu' });
      assert.deepEqual(event.payload, { n: 1 });
      tail.child.kill('SIGTERM');
      await tail.done;

      const bad = await cli(['events', 'emit', 'bad name', '--resource', 'x'], env).done;
      assert.equal(bad.code, 1);
      assert.match(bad.stderr, /answered 400/);
      assert.match(bad.stderr, /event:/);
      const noKey = await cli(['events', 'emit', 'cli.x', '--resource', 'x'], { REFLEX_API_URL: t.url }).done;
      assert.match(noKey.stderr, /answered 401/);
      const down = await cli(['events', 'emit', 'cli.x', '--resource', 'x'], { REFLEX_API_URL: 'http://127.0.0.1:1' }).done;
      // An unreachable API is the environment's problem, not the input's (docs/cli.md, exit codes).
      assert.equal(down.code, 2);
      assert.match(down.stderr, /cannot reach the Reflex API at http:\/\/127\.0\.0\.1:1/);
    } finally {
      await t.cleanup();
    }
  });
});
