import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { after, describe, it } from 'node:test';
import { metricsPorts, PROCESS_GROUPS } from '../cli/supervise.ts';
import { SERVICE_NAMES } from '../services/registry.ts';
import { testNamespace, waitFor } from './support/harness.ts';

const ROOT = fileURLToPath(new URL('..', import.meta.url));

/** The live child processes of `pid` with their command lines (from /proc). */
function children(pid: number): { pid: number; args: string[] }[] {
  const out: { pid: number; args: string[] }[] = [];
  for (const p of readdirSync('/proc').filter((d) => /^\d+$/.test(d))) {
    try {
      const stat = readFileSync(`/proc/${p}/stat`, 'utf8');
      const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
      if (ppid === pid) out.push({ pid: Number(p), args: readFileSync(`/proc/${p}/cmdline`, 'utf8').split('\0').filter(Boolean) });
    } catch {
      /* gone meanwhile */
    }
  }
  return out;
}

const alive = (pid: number) => {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
};

describe('reflex start: a supervised process per service group', () => {
  const ns = testNamespace('procs');
  after(async () => {
    const reset = spawn(process.execPath, ['--import', 'tsx', 'cli/main.ts', 'reset', '--namespace', ns, '--yes'], { cwd: ROOT, stdio: 'ignore' });
    await new Promise((r) => reset.once('exit', r));
  });

  it('groups every service exactly once', () => {
    assert.deepEqual([...PROCESS_GROUPS.flat()].sort(), [...SERVICE_NAMES].sort());
  });

  it('gives each group without the API a metrics port of its own (none when the port is 0)', () => {
    const ports = metricsPorts(9464);
    assert.deepEqual(
      PROCESS_GROUPS.map((g) => ports.get(g)),
      PROCESS_GROUPS.map((g, i) => (g.includes('api') ? undefined : 9464 + i - 1)),
    );
    assert.deepEqual(new Set(metricsPorts(0).values()), new Set([0]));
    // A base at the top of the range: the groups past 65535 get no listener, not a port that cannot exist.
    assert.deepEqual([...metricsPorts(65_534).values()], [65_534, 65_535, 0, 0]);
  });

  it('runs the groups as children, restarts a killed one, and one SIGINT stops them all', async () => {
    // A base of our own: other test files run engines (and their metrics listeners) at the same time.
    const metricsBase = 20_000 + Math.floor(Math.random() * 12_000); // below the ephemeral range (32768-), which client sockets use
    const child = spawn(process.execPath, ['--import', 'tsx', 'cli/main.ts', 'start'], {
      cwd: ROOT,
      env: { ...process.env, REFLEX_NAMESPACE: ns, REFLEX_PORT: '0', REFLEX_LOG_LEVEL: 'warn', REFLEX_AUTOMATIONS_DIR: '', REFLEX_PROCESSES: 'multi', REFLEX_METRICS_PORT: String(metricsBase) },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let output = '';
    child.stdout.on('data', (d) => (output += d));
    child.stderr.on('data', (d) => (output += d));
    const exited = new Promise<number | null>((r) => child.once('exit', (code) => r(code)));
    try {
      await waitFor(() => output.includes('Press Ctrl-C'), { timeoutMs: 90_000, what: 'the start-up banner' });
      for (const s of SERVICE_NAMES) assert.match(output, new RegExp(`\\n  ${s} `), `the banner names ${s}`);
      const url = /API: (http:\/\/127\.0\.0\.1:\d+)\/api/.exec(output)?.[1];
      assert.ok(url, output);
      // Every process's counters can be scraped: the automations process's on its own port.
      const automationsPort = metricsPorts(metricsBase).get(PROCESS_GROUPS.find((g) => g.includes('automations'))!);
      assert.match(output, new RegExp(`automations :${automationsPort}`), 'the banner says where');
      assert.match(await (await fetch(`http://127.0.0.1:${automationsPort}/metrics`)).text(), /reflex_webhook_direct_deliveries_total/);

      const kids = children(child.pid as number);
      assert.equal(kids.length, PROCESS_GROUPS.length, `one process per group: ${JSON.stringify(kids)}`);
      const webhooks = kids.find((k) => k.args.at(-1) === 'webhooks');
      assert.ok(webhooks, 'a process runs the webhooks service alone');

      // A crash: the supervisor logs it and starts the group again.
      process.kill(webhooks.pid, 'SIGKILL');
      const replaced = await waitFor(() => children(child.pid as number).find((k) => k.args.at(-1) === 'webhooks' && k.pid !== webhooks.pid), {
        timeoutMs: 30_000,
        what: 'a new webhooks process',
      });
      assert.match(output, /a service process exited; restarting it/);
      assert.equal((await fetch(`${url}/api/health`)).status, 200);

      const all = [...kids.map((k) => k.pid), replaced.pid];
      child.kill('SIGINT');
      assert.equal(await exited, 0, output);
      assert.match(output, /stopped cleanly/);
      assert.deepEqual(all.filter(alive), [], 'no child outlives the supervisor');
    } finally {
      if (child.exitCode === null) child.kill('SIGKILL');
    }
  });
});
