import assert from 'node:assert/strict';
import { once } from 'node:events';
import { createServer, type Server } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { reflexBin } from './support/cli.ts';
import { testNamespace } from './support/harness.ts';

/**
 * Errors at start name their cause in one line: a taken port (with the address and REFLEX_PORT, exit 2,
 * nothing started: no connection error, no stack), and a PostgreSQL role that does not exist, which is
 * not "PostgreSQL is unreachable" (the server is up; the fix is the URL, not `docker compose up`).
 */
describe('errors at start', () => {
  let holder: Server;
  let port = 0;

  before(async () => {
    holder = createServer();
    holder.listen(0, '127.0.0.1');
    await once(holder, 'listening');
    port = (holder.address() as { port: number }).port;
  });
  after(() => holder.close());

  for (const args of [['start'], ['start', 'api']]) {
    it(`\`reflex ${args.join(' ')}\` on a taken port says so in one line and exits 2`, async () => {
      const run = await reflexBin(args, { REFLEX_PORT: String(port), REFLEX_NAMESPACE: testNamespace('port') });
      assert.equal(run.code, 2, run.stderr);
      const lines = run.stderr.trim().split('\n');
      assert.equal(lines.length, 1, run.stderr);
      assert.match(lines[0], new RegExp(`cannot listen on 127\\.0\\.0\\.1:${port}: the address is already in use`));
      assert.match(lines[0], /REFLEX_PORT/);
      assert.doesNotMatch(run.stderr + run.stdout, /Connection is closed|\n\s+at /, 'no stack, no half-started connections');
      assert.doesNotMatch(run.stdout, /Reflex is running/);
    });
  }

  it('a PostgreSQL role that does not exist is told apart from an unreachable server', async () => {
    const run = await reflexBin(['start', 'api'], { REFLEX_PORT: '0', REFLEX_NAMESPACE: testNamespace('role'), REFLEX_DATABASE_URL: 'postgres://nope@127.0.0.1:5432/reflex' });
    assert.equal(run.code, 2, run.stderr);
    const lines = run.stderr.trim().split('\n');
    assert.equal(lines.length, 1, run.stderr);
    assert.match(lines[0], /PostgreSQL at postgres:\/\/nope@127\.0\.0\.1:5432\/reflex is up but refused the connection \(role "nope" does not exist\)/);
    assert.match(lines[0], /REFLEX_DATABASE_URL/);
    assert.doesNotMatch(lines[0], /cannot reach|docker compose/);
  });

  it('`reflex --version` prints the package version', async () => {
    const run = await reflexBin(['--version']);
    assert.equal(run.code, 0, run.stderr);
    const { version } = JSON.parse((await import('node:fs')).readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as { version: string };
    assert.equal(run.stdout.trim(), version);
  });
});
