import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { after, before, describe, it } from 'node:test';
import type { FlowRun } from '../schemas/flow-run.ts';
import { startTestEngine, waitFor, type TestEngine } from './support/harness.ts';

/** flow.serve() in a script: creates the deployment, runs its runs, and drains on SIGINT. */

let t: TestEngine;
let child: ChildProcess | undefined;
before(async () => {
  t = await startTestEngine({ services: ['outbox', 'api'] });
});
after(async () => {
  if (child && child.exitCode === null) child.kill('SIGKILL');
  await t?.cleanup();
});

describe('serve()', () => {
  it('creates or updates the deployment, serves its runs from the calling process, and stops on SIGINT', async () => {
    let output = '';
    child = spawn(process.execPath, ['--import', 'tsx', 'tests/support/serve-script.ts'], {
      env: { ...process.env, REFLEX_NAMESPACE: t.config.namespace, REFLEX_LOG_LEVEL: 'warn', SERVE_NAME: 'greeter' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    child.stdout?.on('data', (d: Buffer) => (output += d.toString()));
    child.stderr?.on('data', (d: Buffer) => (output += d.toString()));
    const exited = new Promise<number | null>((r) => child!.on('exit', (code) => r(code)));
    await waitFor(() => output.includes('Serving "served-greet"'), { timeoutMs: 30_000, what: `the script to serve (output: ${output})` });

    const deps = (await t.api<{ items: Array<{ id: string; name: string; flow: string; work_pool: string; parameters: Record<string, unknown> }> }>('GET', '/api/deployments')).body.items;
    const dep = deps.find((d) => d.name === 'greeter');
    assert.ok(dep, JSON.stringify(deps));
    assert.equal(dep.work_pool, 'serve-greeter');
    assert.deepEqual(dep.parameters, { who: 'default' });

    const created = (await t.api<FlowRun>('POST', `/api/deployments/${dep.id}/runs`, { parameters: { who: 'ada' } })).body;
    const done = await waitFor(async () => {
      const r = (await t.api<FlowRun>('GET', `/api/flow-runs/${created.id}`)).body;
      return r.state.type === 'COMPLETED' ? r : null;
    }, { timeoutMs: 15_000, what: 'the served run to complete' });
    assert.deepEqual(done.result, { hello: 'ada' });

    child.kill('SIGINT');
    assert.equal(await exited, 0, output);
    assert.match(output, /SIGINT: finishing running flows/);
    assert.match(output, /served and stopped/);
  });
});
