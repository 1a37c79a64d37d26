import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { FlowRun, TaskRun } from '../schemas/flow-run.ts';
import { startTestEngine, waitFor, type TestEngine } from './support/harness.ts';

/** The same flow code run by a plain script: recorded when the engine is reachable, still run when not. */

let t: TestEngine;
const outside = mkdtempSync(join(tmpdir(), 'reflex-outside-'));

before(async () => {
  t = await startTestEngine({ services: ['outbox', 'api'] });
});
after(async () => {
  await t?.cleanup();
  rmSync(outside, { recursive: true, force: true });
});

function runScript(file: string, args: string[], env: Record<string, string>): Promise<{ code: number | null; stdout: string; stderr: string; ms: number }> {
  const started = Date.now();
  return new Promise((done) => {
    const child = spawn(process.execPath, ['--import', 'tsx', file, ...args], { env: { ...process.env, REFLEX_LOG_LEVEL: 'warn', ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    const timer = setTimeout(() => child.kill('SIGKILL'), 30_000);
    child.on('exit', (code) => {
      clearTimeout(timer);
      done({ code, stdout, stderr, ms: Date.now() - started });
    });
  });
}

describe('flows called from a script', () => {
  it('records the run through the engine and exits on its own', async () => {
    const r = await runScript('tests/support/script-flow.ts', ['ada'], { REFLEX_NAMESPACE: t.config.namespace });
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /RESULT hello ADA/);
    const runs = (await t.api<{ items: FlowRun[] }>('GET', '/api/flow-runs?flow_name=script-greet')).body.items;
    assert.equal(runs.length, 1);
    assert.equal(runs[0].state.type, 'COMPLETED');
    assert.equal(runs[0].result, 'hello ADA');
    assert.deepEqual(runs[0].tags, ['script']);
    const detail = (await t.api<{ task_runs: TaskRun[] }>('GET', `/api/flow-runs/${runs[0].id}`)).body;
    assert.deepEqual(detail.task_runs.map((tr) => [tr.task_name, tr.state.type]), [['shout', 'COMPLETED']]);
    const logs = await waitFor(async () => (await t.api<{ items: Array<{ message: string }> }>('GET', `/api/flow-runs/${runs[0].id}/logs`)).body.items.length > 0);
    assert.ok(logs);
  });

  it('still runs the flow, unrecorded, when the engine is unreachable', async () => {
    const r = await runScript('tests/support/script-flow.ts', ['bob'], {
      REFLEX_NAMESPACE: t.config.namespace,
      REFLEX_DATABASE_URL: 'postgres://postgres@127.0.0.1:1/nowhere',
      REFLEX_CONNECT_TIMEOUT_MS: '500',
    });
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /RESULT hello BOB/);
    assert.equal(r.stderr.match(/not recorded/g)?.length, 1, `warned once: ${r.stderr}`);
  });

  it('imports reflex/sdk from a project outside the repository (installed as a link)', async () => {
    mkdirSync(join(outside, 'node_modules'));
    symlinkSync(resolve('.'), join(outside, 'node_modules', 'reflex'), 'dir');
    writeFileSync(join(outside, 'package.json'), JSON.stringify({ name: 'my-flows', type: 'module' }));
    writeFileSync(join(outside, 'flow.ts'), readFileSync('tests/support/script-flow.ts', 'utf8'));
    const r = await runScript(join(outside, 'flow.ts'), ['eve'], { REFLEX_NAMESPACE: t.config.namespace });
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /RESULT hello EVE/);
    const runs = (await t.api<{ items: FlowRun[] }>('GET', '/api/flow-runs?flow_name=script-greet')).body.items;
    assert.equal(runs.length, 2);
  });
});
