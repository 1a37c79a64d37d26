import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { reflexBin, type CliRun } from './support/cli.ts';
import { startTestEngine, waitFor, type TestEngine } from './support/harness.ts';

/**
 * Every reading command of the `reflex` binary with --json, parsed and checked against what the API
 * answers for the same request; the table form for a few; exit codes for a missing id (3), a refused
 * change (4) and an unreachable API (2).
 */
describe('reflex CLI that reads', () => {
  let t: TestEngine;
  let dir: string;
  let deploymentId = '';
  let runId = '';
  let automationId = '';
  const env = () => ({ REFLEX_API_URL: t.url });
  const reflex = (...args: string[]) => reflexBin(args, env());
  const json = <T = any>(run: CliRun): T => {
    assert.equal(run.code, 0, run.stderr);
    return JSON.parse(run.stdout) as T;
  };

  before(async () => {
    t = await startTestEngine({ services: ['recorder', 'api'] });
    dir = mkdtempSync(join(tmpdir(), 'reflex-cli-'));
    const d = await t.api('POST', '/api/deployments', { name: 'cli-read', flow: 'etl', work_pool: 'cli-read-pool', parameters: { source: 'a' } });
    assert.equal(d.status, 201, JSON.stringify(d.body));
    deploymentId = d.body.id;
    const a = await t.api('POST', '/api/automations', { name: 'cli-read-auto', trigger: { type: 'event', expect: ['cli.read'], posture: 'Reactive', threshold: 1 }, actions: [{ type: 'do-nothing' }] });
    assert.equal(a.status, 201, JSON.stringify(a.body));
    automationId = a.body.id;
    const e = await t.api('POST', '/api/events', [{ event: 'cli.read', resource: { 'reflex.resource.id': 'cli.thing' }, payload: { n: 1 } }]);
    assert.equal(e.status, 202, JSON.stringify(e.body));
    await waitFor(async () => (await t.api('POST', '/api/events/filter', { event: ['cli.read'] })).body.items.length === 1, { what: 'the event stored' });
  });

  after(async () => {
    rmSync(dir, { recursive: true, force: true });
    await t?.cleanup();
  });

  it('deployments run|ls|show|pause|resume', async () => {
    const run = json(await reflex('deployments', 'run', 'cli-read', '--param', 'source="b"', '--json'));
    assert.equal(run.deployment_id, deploymentId);
    assert.deepEqual(run.parameters, { source: 'b' });
    runId = run.id;

    const ls = json(await reflex('deployments', 'ls', '--json'));
    assert.deepEqual(ls, (await t.api('GET', '/api/deployments')).body);
    const show = json(await reflex('deployments', 'show', 'cli-read', '--json'));
    assert.deepEqual(show, (await t.api('GET', `/api/deployments/${deploymentId}`)).body);

    assert.equal(json(await reflex('deployments', 'pause', 'cli-read', '--json')).paused, true);
    assert.equal((await t.api('GET', `/api/deployments/${deploymentId}`)).body.paused, true);
    const refused = await reflex('deployments', 'run', 'cli-read');
    assert.equal(refused.code, 4, 'a paused deployment refuses runs: 409 is exit 4');
    assert.match(refused.stderr, /answered 409/);
    assert.equal(json(await reflex('deployments', 'resume', 'cli-read', '--json')).paused, false);

    const table = await reflex('deployments', 'ls');
    assert.equal(table.code, 0, table.stderr);
    assert.match(table.stdout, /^ID\s+NAME\s+FLOW/m);
    assert.match(table.stdout, /cli-read\s+etl\s+cli-read-pool/);
  });

  it('runs ls|show|logs|cancel|retry|resume', async () => {
    const ls = json(await reflex('runs', 'ls', '--deployment', deploymentId, '--json'));
    assert.deepEqual(ls, (await t.api('GET', `/api/flow-runs?deployment_id=${deploymentId}`)).body);
    assert.deepEqual(ls.items.map((r: { id: string }) => r.id), [runId]);
    const none = json(await reflex('runs', 'ls', '--flow', 'no-such-flow', '--json'));
    assert.deepEqual(none.items, [], 'the filter reaches the API');

    const show = json(await reflex('runs', 'show', runId, '--json'));
    assert.deepEqual(show, (await t.api('GET', `/api/flow-runs/${runId}`)).body);
    const logs = json(await reflex('runs', 'logs', runId, '--json'));
    assert.deepEqual(logs, (await t.api('GET', `/api/flow-runs/${runId}/logs`)).body);

    const cancelled = json(await reflex('runs', 'cancel', runId, '--message', 'from the test', '--json'));
    assert.match(cancelled.state.type, /CANCELL/);
    assert.equal((await t.api('GET', `/api/flow-runs/${runId}`)).body.state.type, cancelled.state.type);

    const retry = await reflex('runs', 'retry', runId);
    assert.equal(retry.code, 4, `a cancelled run cannot be retried: ${retry.stderr}`);
    assert.match(retry.stderr, /answered 409/);

    const resume = await reflex('runs', 'resume', runId);
    assert.notEqual(resume.code, 0);
    assert.match(resume.stderr, /resume/);

    const missing = await reflex('runs', 'show', 'no-such-run');
    assert.equal(missing.code, 3, missing.stderr);
    assert.match(missing.stderr, /answered 404/);
  });

  it('automations ls|show|firings|disable|enable|test', async () => {
    assert.deepEqual(json(await reflex('automations', 'ls', '--json')), (await t.api('GET', '/api/automations')).body);
    assert.deepEqual(json(await reflex('automations', 'show', automationId, '--json')), (await t.api('GET', `/api/automations/${automationId}`)).body);
    assert.deepEqual(json(await reflex('automations', 'firings', automationId, '--json')), (await t.api('GET', `/api/automations/${automationId}/firings`)).body);
    assert.equal(json(await reflex('automations', 'disable', automationId, '--json')).enabled, false);
    assert.equal((await t.api('GET', `/api/automations/${automationId}`)).body.enabled, false);
    assert.equal(json(await reflex('automations', 'enable', automationId, '--json')).enabled, true);

    const doc = join(dir, 'auto.json');
    const events = join(dir, 'events.json');
    writeFileSync(doc, JSON.stringify({ name: 'draft', trigger: { type: 'event', expect: ['cli.test'], posture: 'Reactive', threshold: 1 }, actions: [{ type: 'do-nothing' }] }));
    writeFileSync(events, JSON.stringify([{ event: 'cli.test', resource: { 'reflex.resource.id': 'x' } }, { event: 'other', resource: { 'reflex.resource.id': 'x' } }]));
    const dry = json(await reflex('automations', 'test', doc, '--events', events, '--json'));
    assert.equal(dry.events_evaluated, 2);
    assert.equal(dry.firings.length, 1);
    const human = await reflex('automations', 'test', doc, '--events', events);
    assert.match(human.stdout, /2 event\(s\) evaluated, 1 firing\(s\)/);
  });

  it('events ls, deliveries ls|show|replay, pools ls', async () => {
    const events = json(await reflex('events', 'ls', '--event', 'cli.read', '--json'));
    assert.deepEqual(events, (await t.api('POST', '/api/events/filter', { event: ['cli.read'] })).body);
    assert.equal(events.items.length, 1);
    assert.equal(json(await reflex('events', 'ls', '--resource', 'nothing-here', '--json')).items.length, 0);

    assert.deepEqual(json(await reflex('deliveries', 'ls', '--json')), (await t.api('GET', '/api/webhook-deliveries')).body);
    assert.deepEqual(json(await reflex('deliveries', 'ls', '--status', 'failed', '--json')), (await t.api('GET', '/api/webhook-deliveries?status=failed')).body);
    assert.equal((await reflex('deliveries', 'show', '01a23469-0000-7000-8000-000000000000')).code, 3);
    assert.equal((await reflex('deliveries', 'replay', '01a23469-0000-7000-8000-000000000000')).code, 3);
    const bad = await reflex('deliveries', 'ls', '--status', 'nonsense');
    assert.equal(bad.code, 1, 'a 400 is exit 1');
    assert.match(bad.stderr, /answered 400/);

    const pools = json(await reflex('pools', 'ls', '--json'));
    assert.deepEqual(pools, (await t.api('GET', '/api/work-pools')).body);
    assert.ok(pools.items.some((p: { name: string }) => p.name === 'cli-read-pool'));
  });

  it('an unreachable API is exit 2 with one line naming the URL', async () => {
    const run = await reflexBin(['runs', 'ls'], { REFLEX_API_URL: 'http://127.0.0.1:1' });
    assert.equal(run.code, 2);
    assert.match(run.stderr, /^reflex: cannot reach the Reflex API at http:\/\/127\.0\.0\.1:1 \(ECONNREFUSED\)/);
    assert.equal(run.stderr.trim().split('\n').length, 1);
  });
});
