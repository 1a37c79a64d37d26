import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { promisify } from 'node:util';
import { getConcurrencyLimit } from '../modules/runs/concurrency-limits.ts';
import { startTestEngine, type TestEngine } from './support/harness.ts';

const exec = promisify(execFile);

describe('reflex deploy and concurrency-limit CLI', () => {
  let t: TestEngine;
  let dir: string;
  before(async () => {
    t = await startTestEngine({ services: ['outbox'] });
    dir = mkdtempSync(join(tmpdir(), 'reflex-deploy-'));
  });
  after(async () => {
    rmSync(dir, { recursive: true, force: true });
    await t.cleanup();
  });

  async function reflex(...args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
    try {
      const r = await exec(process.execPath, ['--import', 'tsx', 'cli/main.ts', ...args], {
        env: { ...process.env, REFLEX_NAMESPACE: t.config.namespace, REFLEX_LOG_LEVEL: 'silent' },
      });
      return { code: 0, stdout: r.stdout, stderr: r.stderr };
    } catch (err) {
      const e = err as { code: number; stdout: string; stderr: string };
      return { code: e.code, stdout: e.stdout, stderr: e.stderr };
    }
  }

  it('applies a directory idempotently on name and reports created / updated / unchanged', async () => {
    const a = { name: 'cli-etl', flow: 'etl', parameters: { source: 'a' }, schedules: [{ cron: '0 * * * *', timezone: 'Europe/Paris' }] };
    writeFileSync(join(dir, 'a.json'), JSON.stringify(a));
    writeFileSync(join(dir, 'b.json'), JSON.stringify({ deployments: [{ name: 'cli-report', flow: 'report' }] }));
    const first = await reflex('deploy', dir);
    assert.equal(first.code, 0, first.stderr);
    assert.match(first.stdout, /created\s+cli-etl/);
    assert.match(first.stdout, /2 deployment\(s\): 2 created, 0 updated, 0 unchanged/);

    writeFileSync(join(dir, 'a.json'), JSON.stringify({ ...a, parameters: { source: 'b' } }));
    const second = await reflex('deploy', dir);
    assert.equal(second.code, 0, second.stderr);
    assert.match(second.stdout, /updated\s+cli-etl/);
    assert.match(second.stdout, /unchanged\s+cli-report/);
    const row = await t.rt.pg.query("SELECT parameters FROM deployments WHERE name = 'cli-etl'");
    assert.deepEqual(row.rows[0].parameters, { source: 'b' });
  });

  it('refuses an invalid file naming the file and the field, and writes nothing', async () => {
    const badDir = mkdtempSync(join(tmpdir(), 'reflex-deploy-bad-'));
    try {
      writeFileSync(join(badDir, '1-good.json'), JSON.stringify({ name: 'would-be-created', flow: 'x' }));
      writeFileSync(join(badDir, '2-bad.json'), JSON.stringify([{ name: 'ok', flow: 'x' }, { name: 'broken', flow: 'x', schedules: [{ cron: '0 * * * *', timezone: 'Nowhere/Land' }] }]));
      const r = await reflex('deploy', badDir);
      assert.equal(r.code, 1);
      assert.match(r.stderr, /2-bad\.json: invalid deployment: \[1\]\.schedules\[0\]\.timezone: unknown IANA time zone "Nowhere\/Land"/);
      const none = await t.rt.pg.query("SELECT 1 FROM deployments WHERE name = 'would-be-created'");
      assert.equal(none.rowCount, 0, 'nothing half-written');
    } finally {
      rmSync(badDir, { recursive: true, force: true });
    }
  });

  it('sets a concurrency limit', async () => {
    const r = await reflex('concurrency-limit', 'set', 'db-slots', '3');
    assert.equal(r.code, 0, r.stderr);
    assert.equal(await getConcurrencyLimit(t.rt.redis, t.rt.names, 'db-slots'), 3);
    const bad = await reflex('concurrency-limit', 'set', 'db-slots', 'many');
    assert.equal(bad.code, 1);
    assert.match(bad.stderr, /limit must be a whole number/);
  });
});
