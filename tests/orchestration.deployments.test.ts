import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { FlowRunCommandJobSchema, flowRunJobId } from '../schemas/jobs.ts';
import { startTestEngine, type TestEngine } from './support/harness.ts';

const schema = {
  type: 'object',
  properties: { source: { type: 'string', minLength: 1 }, limit: { type: 'integer', minimum: 1 } },
  required: ['source'],
  additionalProperties: false,
};

describe('deployments API', () => {
  let t: TestEngine;
  before(async () => {
    t = await startTestEngine({ services: ['outbox', 'api'] });
  });
  after(async () => {
    await t.cleanup();
  });

  it('creates, reads by id and name, lists, patches and deletes', async () => {
    const created = await t.api('POST', '/api/deployments', { name: 'etl-daily', flow: 'etl', parameters: { source: 's3', limit: 5 }, parameter_schema: schema, tags: ['etl'] });
    assert.equal(created.status, 201, JSON.stringify(created.body));
    assert.equal(created.body.work_pool, 'default');
    assert.equal(created.body.paused, false);
    assert.deepEqual(created.body.schedules, []);
    const id = created.body.id;
    assert.equal((await t.api('GET', `/api/deployments/${id}`)).body.name, 'etl-daily');
    assert.equal((await t.api('GET', '/api/deployments/etl-daily')).body.id, id);
    assert.equal((await t.api('GET', '/api/deployments/name/etl-daily')).body.id, id);
    const pool = await t.api('GET', '/api/work-pools/default');
    assert.equal(pool.status, 200, 'the work pool is created on first use');

    const dup = await t.api('POST', '/api/deployments', { name: 'etl-daily', flow: 'other' });
    assert.equal(dup.status, 409);
    assert.equal(dup.body.error.code, 'conflict');

    const patched = await t.api('PATCH', `/api/deployments/${id}`, { description: 'nightly', schedules: [{ cron: '0 3 * * *', timezone: 'Europe/Paris' }] });
    assert.equal(patched.status, 200, JSON.stringify(patched.body));
    assert.equal(patched.body.description, 'nightly');
    assert.deepEqual(patched.body.schedules, [{ cron: '0 3 * * *', timezone: 'Europe/Paris', active: true }]);
    assert.equal(patched.body.flow, 'etl', 'fields not given are kept');

    await t.api('POST', '/api/deployments', { name: 'zz-other', flow: 'x' });
    const page1 = await t.api('GET', '/api/deployments?limit=1');
    assert.equal(page1.body.items.length, 1);
    assert.equal(page1.body.items[0].name, 'etl-daily');
    const page2 = await t.api('GET', `/api/deployments?limit=1&cursor=${page1.body.next_cursor}`);
    assert.equal(page2.body.items[0].name, 'zz-other');
    assert.equal(page2.body.next_cursor, null);

    assert.equal((await t.api('DELETE', '/api/deployments/zz-other')).status, 204);
    assert.equal((await t.api('GET', '/api/deployments/zz-other')).status, 404);
  });

  it('refuses bad deployments with 400 and field paths', async () => {
    const bad = await t.api('POST', '/api/deployments', {
      name: 'bad name',
      flow: '',
      work_pool: 'a:b',
      schedules: [{ cron: 'not a cron', timezone: 'UTC' }, { cron: '0 * * * *', timezone: 'Mars/Olympus' }, { interval_seconds: 0 }],
      concurrency_limit: 0,
    });
    assert.equal(bad.status, 400);
    const paths = bad.body.error.issues.map((i: { path: string }) => i.path).sort();
    for (const p of ['name', 'flow', 'work_pool', 'concurrency_limit']) assert.ok(paths.includes(p), `${p} in ${paths}`);
    assert.ok(paths.some((p: string) => p.startsWith('schedules[0]')), String(paths));
    assert.ok(paths.some((p: string) => p.startsWith('schedules[1]')), String(paths));
    const badSchema = await t.api('POST', '/api/deployments', { name: 'x1', flow: 'f', parameter_schema: { type: 'nonsense' } });
    assert.equal(badSchema.status, 400);
    assert.equal(badSchema.body.error.issues[0].path, 'parameter_schema');
  });

  it('creates runs now: merges and validates parameters (400 with paths) and enqueues a job on the pool queue', async () => {
    const bad = await t.api('POST', '/api/deployments/etl-daily/runs', { parameters: { source: '', limit: 0, extra: 1 } });
    assert.equal(bad.status, 400);
    const paths = bad.body.error.issues.map((i: { path: string }) => i.path).sort();
    assert.deepEqual(paths, ['parameters.extra', 'parameters.limit', 'parameters.source']);

    const res = await t.api('POST', '/api/deployments/etl-daily/runs', { parameters: { limit: 10 }, tags: ['manual'] });
    assert.equal(res.status, 201, JSON.stringify(res.body));
    const run = res.body;
    assert.deepEqual(run.parameters, { source: 's3', limit: 10 });
    assert.equal(run.state.type, 'SCHEDULED');
    assert.equal(run.work_pool, 'default');
    assert.deepEqual(run.tags.sort(), ['etl', 'manual']);
    const job = await t.modules.runs.queues.queue('default').getJob(flowRunJobId(run.id, 1));
    assert.ok(job, 'job enqueued');
    // The job carries what the worker needs of the run before claiming it (its slot check), so the worker need not read it.
    assert.deepEqual(job.data, {
      flow_run_id: run.id,
      flow_name: 'etl',
      attempt: 1,
      run: { deployment_id: run.deployment_id, work_pool: 'default', concurrency_key: null, created: run.created, priority: 0 },
    });

    const again1 = await t.api('POST', '/api/deployments/etl-daily/runs', { idempotency_key: 'k-1' });
    const again2 = await t.api('POST', '/api/deployments/etl-daily/runs', { idempotency_key: 'k-1' });
    assert.equal(again1.status, 201);
    assert.equal(again2.status, 200);
    assert.equal(again1.body.id, again2.body.id);
  });

  it('refuses manual runs of a paused deployment or work pool with 409', async () => {
    await t.api('POST', '/api/deployments', { name: 'pausable', flow: 'f', work_pool: 'side' });
    assert.equal((await t.api('POST', '/api/deployments/pausable/pause')).body.paused, true);
    const r1 = await t.api('POST', '/api/deployments/pausable/runs', {});
    assert.equal(r1.status, 409);
    assert.match(r1.body.error.message, /paused/);
    assert.equal((await t.api('POST', '/api/deployments/pausable/resume')).body.paused, false);
    assert.equal((await t.api('POST', '/api/deployments/pausable/runs', {})).status, 201);

    const paused = await t.api('POST', '/api/work-pools/side/pause');
    assert.equal(paused.body.paused, true);
    assert.equal(await t.modules.runs.queues.queue('side').isPaused(), true);
    const r2 = await t.api('POST', '/api/deployments/pausable/runs', {});
    assert.equal(r2.status, 409);
    assert.match(r2.body.error.message, /work pool "side" is paused/);
    // An automation's run-deployment command reads the deployment and its pool in one query: the same refusals.
    const commands = t.modules.runs.commands;
    const NO_CAUSE = { automation_id: null, firing_id: null, event_id: null };
    const command = (ref: string, key: string) => commands.execute(FlowRunCommandJobSchema.parse({ type: 'run-deployment', idempotency_key: key, deployment_name: ref, triggered_by: NO_CAUSE }));
    await assert.rejects(command('pausable', 'cmd-1'), /work pool "side" is paused/);
    await t.api('POST', '/api/work-pools/side/resume');
    assert.equal(await t.modules.runs.queues.queue('side').isPaused(), false);
    const byName = await command('pausable', 'cmd-2');
    const byFlowAndName = await command('f/pausable', 'cmd-3');
    assert.ok('flow_run_id' in byName && 'flow_run_id' in byFlowAndName);
    const deployment = (await t.api('GET', '/api/deployments/pausable')).body;
    const byId = await commands.execute(FlowRunCommandJobSchema.parse({ type: 'run-deployment', idempotency_key: 'cmd-4', deployment_id: deployment.id, triggered_by: NO_CAUSE }));
    const runs = await t.rt.pg.query('SELECT deployment_id FROM flow_runs WHERE id = ANY($1::uuid[])', [[byName, byFlowAndName, byId].map((r) => ('flow_run_id' in r ? r.flow_run_id : ''))]);
    assert.deepEqual(runs.rows.map((r) => r.deployment_id), [deployment.id, deployment.id, deployment.id]);
    await assert.rejects(command('nope', 'cmd-5'), /deployment "nope"|not found|does not exist/i);
    assert.equal((await t.api('POST', '/api/deployments/pausable/pause')).body.paused, true);
    await assert.rejects(command('pausable', 'cmd-6'), /paused/);

    // Commands executed together share one read of their deployments; each still gets its own answer, and an
    // id wins over a deployment named like that id.
    assert.equal((await t.api('POST', '/api/deployments', { name: 'other', flow: 'g', work_pool: 'side' })).status, 201);
    const namedLikeId = await t.api('POST', '/api/deployments', { name: deployment.id, flow: 'g', work_pool: 'side' });
    assert.equal(namedLikeId.status, 201, JSON.stringify(namedLikeId.body));
    const together = await Promise.allSettled([
      command('other', 'cmd-7'),
      command('g/other', 'cmd-8'),
      command('pausable', 'cmd-9'),
      command('nope', 'cmd-10'),
      command(deployment.id, 'cmd-11'),
      command(`g/${deployment.id}`, 'cmd-12'),
      command('f/other', 'cmd-13'),
    ]);
    const outcome = async (r: PromiseSettledResult<Awaited<ReturnType<typeof command>>>) => {
      if (r.status === 'rejected') return `rejected: ${(r.reason as Error).message}`;
      const id = 'flow_run_id' in r.value ? r.value.flow_run_id : '';
      return (await t.rt.pg.query<{ name: string }>('SELECT d.name FROM flow_runs f JOIN deployments d ON d.id = f.deployment_id WHERE f.id = $1', [id])).rows[0]?.name;
    };
    const outcomes = await Promise.all(together.map(outcome));
    assert.equal(outcomes[0], 'other');
    assert.equal(outcomes[1], 'other');
    assert.match(outcomes[2] ?? '', /^rejected: .*paused/);
    assert.match(outcomes[3] ?? '', /^rejected: .*nope/);
    assert.match(outcomes[4] ?? '', /^rejected: .*paused/, 'the id names the paused deployment, not the one named like it');
    assert.equal(outcomes[5], deployment.id, '<flow>/<name> names the deployment named like the id');
    assert.match(outcomes[6] ?? '', /^rejected: .*f\/other/);

    // A reference PostgreSQL could not even compare (a NUL, a lone surrogate, from a rendered template) names
    // no deployment, and does not fail the commands read with it.
    const hostile = await Promise.allSettled([command('oth\u0000er', 'cmd-14'), command('other', 'cmd-15'), command('x\ud800', 'cmd-16')]);
    assert.match(await outcome(hostile[0]), /^rejected: .*not found|^rejected: .*deployment/i);
    assert.equal(await outcome(hostile[1]), 'other');
    assert.match(await outcome(hostile[2]), /^rejected: .*not found|^rejected: .*deployment/i);
    assert.ok(hostile[0].status === 'rejected' && (hostile[0].reason as { status?: number }).status === 404, String(hostile[0].status === 'rejected' && hostile[0].reason));
  });

  it('runs commands from a remembered deployment read, never from a stale one', async () => {
    const commands = t.modules.runs.commands;
    const NO_CAUSE = { automation_id: null, firing_id: null, event_id: null };
    let n = 0;
    const command = (parameters: Record<string, unknown> = {}) =>
      commands.execute(FlowRunCommandJobSchema.parse({ type: 'run-deployment', idempotency_key: `mem-${n++}`, deployment_name: 'remembered', parameters, triggered_by: NO_CAUSE }));
    const runOf = async (r: Awaited<ReturnType<typeof command>>) => {
      const id = 'flow_run_id' in r ? r.flow_run_id : '';
      return (await t.rt.pg.query<{ deployment_id: string; parameters: Record<string, unknown> }>('SELECT deployment_id, parameters FROM flow_runs WHERE id = $1', [id])).rows[0];
    };
    // The deployment reads the commands make, counted on the pool they share with the module.
    let reads = 0;
    const query = t.rt.pg.query.bind(t.rt.pg) as (...args: unknown[]) => unknown;
    (t.rt.pg as unknown as { query: (...args: unknown[]) => unknown }).query = (...args: unknown[]) => {
      if (typeof args[0] === 'string' && args[0].includes('work_pool_paused')) reads += 1;
      return query(...args);
    };
    try {
      const first = (await t.api('POST', '/api/deployments', { name: 'remembered', flow: 'h', work_pool: 'mem', parameters: { n: 1 }, parameter_schema: { type: 'object', properties: { n: { type: 'integer' } }, additionalProperties: false } })).body;
      assert.equal((await runOf(await command())).parameters.n, 1);
      assert.equal((await runOf(await command())).parameters.n, 1);
      assert.equal(reads, 1, 'the second command used the remembered read');

      // Changed defaults: the insert refuses the remembered version, and the run is made from a fresh read.
      assert.equal((await t.api('PATCH', '/api/deployments/remembered', { parameters: { n: 2 } })).status, 200);
      assert.equal((await runOf(await command())).parameters.n, 2);
      // A schema that now accepts a parameter the remembered one refused.
      assert.equal((await t.api('PATCH', '/api/deployments/remembered', { parameter_schema: { type: 'object', properties: { n: { type: 'integer' }, extra: { type: 'string' } }, additionalProperties: false } })).status, 200);
      assert.equal((await runOf(await command({ extra: 'yes' }))).parameters.extra, 'yes');

      // Paused after it was remembered, the deployment or its pool: refused, and nothing written.
      const before = (await t.rt.pg.query<{ n: number }>('SELECT count(*)::int AS n FROM flow_runs WHERE deployment_id = $1', [first.id])).rows[0].n;
      assert.equal((await t.api('POST', '/api/deployments/remembered/pause')).status, 200);
      await assert.rejects(command(), (err: { status?: number; code?: string }) => err.status === 409 && err.code === 'deployment_paused');
      assert.equal((await t.api('POST', '/api/deployments/remembered/resume')).status, 200);
      await command();
      assert.equal((await t.api('POST', '/api/work-pools/mem/pause')).status, 200);
      await assert.rejects(command(), (err: { status?: number; code?: string }) => err.status === 409 && err.code === 'work_pool_paused');
      assert.equal((await t.api('POST', '/api/work-pools/mem/resume')).status, 200);
      const after = (await t.rt.pg.query<{ n: number }>('SELECT count(*)::int AS n FROM flow_runs WHERE deployment_id = $1', [first.id])).rows[0].n;
      assert.equal(after, before + 1, 'only the run made while nothing was paused');

      // Deleted, then another deployment under the same name: the command runs the new one.
      await command();
      assert.equal((await t.api('DELETE', '/api/deployments/remembered')).status, 204);
      await assert.rejects(command(), (err: { status?: number }) => err.status === 404);
      const second = (await t.api('POST', '/api/deployments', { name: 'remembered', flow: 'h2', work_pool: 'mem' })).body;
      await command();
      assert.equal((await runOf(await command())).deployment_id, second.id);
    } finally {
      (t.rt.pg as unknown as { query: unknown }).query = query;
    }
  });

  it('manages work pools', async () => {
    const created = await t.api('POST', '/api/work-pools', { name: 'gpu', concurrency_limit: 2 });
    assert.equal(created.status, 201);
    assert.equal((await t.api('POST', '/api/work-pools', { name: 'gpu' })).status, 409);
    const patched = await t.api('PATCH', '/api/work-pools/gpu', { concurrency_limit: 4 });
    assert.equal(patched.body.concurrency_limit, 4);
    const list = await t.api('GET', '/api/work-pools');
    assert.ok(list.body.items.some((p: { name: string }) => p.name === 'gpu'));
    assert.equal((await t.api('GET', '/api/work-pools/nope')).status, 404);
    assert.equal((await t.api('POST', '/api/work-pools', { name: 'bad:name' })).body.error.issues[0].path, 'name');
  });
});
