import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { after, before, describe, test } from 'node:test';
import { buildDashboard } from '../dashboard/build.ts';
import { topicsOf, topicsOfMessage, wanted } from '../services/api/live-topics.ts';
import { coalesceTopics } from '../services/api/routes/live.ts';
import { waitLoaded } from './support/automations.ts';
import { startTestEngine, waitFor, type TestEngine } from './support/harness.ts';

/** The endpoints the dashboard reads, as scripts see them: bounded, validated, documented. */

test('the initial JavaScript is at most 80 KB gzipped', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'reflex-dashboard-'));
  try {
    const built = await buildDashboard(dir);
    const gz = gzipSync(await readFile(join(dir, built.script))).length;
    assert.ok(gz <= 80 * 1024, `bundle is ${(gz / 1024).toFixed(1)} KiB gzipped`);
    const html = await readFile(join(dir, 'index.html'), 'utf8');
    assert.ok(!/<script>|style=/.test(html), 'no inline script or style in the shell');
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test('live topics: what each event touches, filtered by kind, collapsed when too many', () => {
  const run = (name: string, extra = {}) => ({ id: 'e', occurred: '', event: name, resource: { 'reflex.resource.id': 'reflex.flow-run.r1' }, related: [], payload: {}, follows: null, ...extra });
  assert.deepEqual(topicsOf(run('reflex.flow-run.Running')), ['events', 'flow-runs', 'deployments', 'flow-run:r1']);
  const task = run('reflex.task-run.Completed', { resource: { 'reflex.resource.id': 'reflex.task-run.t1' }, related: [{ 'reflex.resource.id': 'reflex.flow-run.r2', 'reflex.resource.role': 'flow-run' }] });
  assert.deepEqual(topicsOf(task), ['events', 'flow-run:r2']);
  assert.deepEqual(topicsOf(run('order.created', { resource: { 'reflex.resource.id': 'o1' } })), ['events']);
  assert.deepEqual(topicsOfMessage('order.created', () => assert.fail('business events are not decoded')), ['events']);
  assert.deepEqual(topicsOfMessage('reflex.flow-run.Running', () => run('reflex.flow-run.Running')), ['events', 'flow-runs', 'deployments', 'flow-run:r1']);
  assert.ok(wanted(new Set(['flow-run']), 'flow-run:r1'));
  assert.ok(!wanted(new Set(['flow-runs']), 'events'));
  const many = new Set(Array.from({ length: 150 }, (_, i) => `flow-run:${i}`).concat('flow-runs'));
  assert.deepEqual(coalesceTopics(many), ['flow-run', 'flow-runs']);
});

describe('dashboard endpoints', () => {
  let t: TestEngine;
  before(async () => {
    t = await startTestEngine({ services: ['api', 'recorder', 'automations', 'outbox'] });
  });
  after(async () => t?.cleanup());

  test('hostile query parameters answer 400 with the field path', async () => {
    const cases: Array<[string, string]> = [
      ['/api/flow-runs/search?limit=1000000', 'limit'],
      ['/api/flow-runs/search?cursor=not-a-cursor', 'cursor'],
      [`/api/flow-runs/search?cursor=${Buffer.from('["x","y"]').toString('base64url')}`, 'cursor'],
      ['/api/flow-runs/search?since=1970-01-01T00:00:00Z', 'since'],
      ['/api/flow-runs/search?since=2024-01-02T00:00:00Z&until=2024-01-01T00:00:00Z', 'since'],
      ['/api/flow-runs/search?state=%27%3B%20DROP', 'state[0]'],
      ['/api/flow-runs/search?bogus=1', ''],
      ['/api/flow-runs/history?buckets=100000', 'buckets'],
      ['/api/flow-runs/history?since=2020-01-01T00:00:00Z', 'since'],
      ['/api/overview?until=yesterday', 'until'],
      ['/api/automation-firings?automation_id=nope', 'automation_id'],
      [`/api/automation-firings?automation_id=${'0'.repeat(8)}-0000-4000-8000-${'0'.repeat(12)}&cursor=zz`, 'cursor'],
      ['/api/flow-runs/01a00000-0000-7000-8000-000000000000/logs/search?cursor=abc', 'cursor'],
      ['/api/flow-runs/01a00000-0000-7000-8000-000000000000/logs/search?limit=0', 'limit'],
      ['/api/live?kinds=everything', 'kinds[0]'],
      ['/api/deployments/x/plan?count=1000', 'count'],
    ];
    for (const [path, field] of cases) {
      const r = await t.api('GET', path);
      assert.equal(r.status, 400, `${path} -> ${r.status} ${JSON.stringify(r.body)}`);
      assert.ok(r.body.error.issues.some((i: { path: string }) => i.path === field), `${path}: ${JSON.stringify(r.body.error.issues)}`);
    }
    assert.equal((await t.api('GET', '/api/flow-runs/not-a-uuid/cause')).status, 404);
    assert.equal((await t.api('GET', '/api/webhook-deliveries/nope/attempts')).status, 404);
    assert.equal((await t.api('GET', '/api/concurrency-limits/none/holders')).status, 404);
  });

  test('every new endpoint is in the OpenAPI document', async () => {
    const { paths } = (await t.api('GET', '/api/docs')).body;
    for (const p of ['/api/session', '/api/live', '/api/flow-runs/search', '/api/flow-runs/history', '/api/flow-runs/{id}/cause', '/api/flow-runs/{id}/logs/search', '/api/overview', '/api/work-pool-status', '/api/deployments/{id}/plan', '/api/concurrency-limits/{name}/holders', '/api/automations/summary', '/api/automation-firings', '/api/automation-firings/{id}', '/api/webhook-deliveries/{id}/attempts']) {
      assert.ok(paths[p], `${p} documented`);
    }
    assert.ok(paths['/api/flow-runs/search'].get.responses['200'].content['application/json'].schema.properties.items);
  });

  test('a run started by an automation records its cause: the event and the firing', async () => {
    const d = await t.api('POST', '/api/deployments', { name: 'caused', flow: 'noop' });
    const a = await t.api('POST', '/api/automations', { name: 'start-caused', trigger: { type: 'event', expect: ['thing.happened'] }, actions: [{ type: 'run-deployment', deployment_id: d.body.id }] });
    assert.equal(a.status, 201);
    await waitLoaded([t], a.body.id, a.body.updated);
    const posted = await t.api('POST', '/api/events', { event: 'thing.happened', resource: { 'reflex.resource.id': 'thing-1' } });
    const runs = await waitFor(async () => (await t.api('GET', `/api/flow-runs/search?deployment_id=${d.body.id}`)).body.items[0], { what: 'the caused run' });
    // The run is written before the recorder stores the event and before the firing's outcome is recorded.
    const cause = await waitFor(async () => {
      const c = (await t.api('GET', `/api/flow-runs/${runs.id}/cause`)).body;
      return c.event && c.firing ? c : null;
    }, { what: 'the cause with its event and firing' });
    assert.equal(cause.kind, 'automation');
    assert.equal(cause.automation.name, 'start-caused');
    assert.equal(cause.event.id, posted.body.ids[0]);
    assert.equal(cause.event.event, 'thing.happened');
    const firing = await waitFor(async () => {
      const f = (await t.api('GET', `/api/automation-firings/${cause.firing.id}`)).body;
      return f.actions[0]?.status === 'executed' ? f : null;
    }, { what: "the firing's outcome" });
    assert.equal(firing.actions[0].detail.result.flow_run_id, runs.id);
    const summary = (await t.api('GET', '/api/automations/summary')).body.items.find((x: { name: string }) => x.name === 'start-caused');
    assert.equal(summary.firings, 1);
    const manual = await t.api('POST', `/api/deployments/${d.body.id}/runs`, {});
    assert.equal((await t.api('GET', `/api/flow-runs/${manual.body.id}/cause`)).body.kind, 'manual');
    const history = (await t.api('GET', `/api/flow-runs/history?deployment_id=${d.body.id}&buckets=4`)).body;
    assert.equal(history.buckets.length, 4);
    assert.equal(history.totals.SCHEDULED, 2);
  });
});
