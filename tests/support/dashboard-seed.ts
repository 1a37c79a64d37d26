import { acquireSlot, type Lease } from '../../modules/runs/index.ts';
import { waitLoaded } from './automations.ts';
import { waitFor, type TestEngine } from './harness.ts';
import type { Receiver } from './receiver.ts';

/**
 * A namespace with something on every page, for the accessibility scans and the screenshots in
 * docs/dashboard.md: finished and failed runs with task runs and logs (one started by an automation, one
 * failed by its flow's error), a Late run, a deployment with a
 * schedule and a parameter schema, automations (one failing), deliveries (one failed), an incoming
 * endpoint with a failed request, a concurrency limit with a holder, and a run suspended for input.
 */
export interface Seeded {
  /** A run the `run-report-on-export` automation started (its page shows the causal chain). */
  runId: string;
  /** A run whose flow failed with a coded error. */
  failedRunId: string;
  deploymentId: string;
  automationId: string;
  deliveryId: string;
  eventId: string;
  lease: Lease;
  /** A run suspended for typed input (its page shows the Resume form; issue 13). */
  pausedRunId: string;
}

export async function seedDashboard(t: TestEngine, receiver: Receiver): Promise<Seeded> {
  const ok = async <T = any>(method: string, path: string, body?: unknown): Promise<T> => {
    const r = await t.api(method, path, body);
    if (r.status >= 300) throw new Error(`${method} ${path} -> ${r.status} ${JSON.stringify(r.body)}`);
    return r.body as T;
  };
  const pipe = await ok('POST', '/api/deployments', {
    name: 'pipeline-hourly',
    flow: 'dash-pipeline',
    description: 'Scores the rows of the hour',
    parameters: { step_ms: 150 },
    schedules: [{ cron: '0 * * * *', timezone: 'Europe/Paris' }],
    tags: ['scoring'],
  });
  const report = await ok('POST', '/api/deployments', {
    name: 'nightly-report',
    flow: 'dash-pipeline',
    parameters: { step_ms: 100 },
    parameter_schema: {
      type: 'object',
      properties: {
        date: { type: 'string', title: 'Date', pattern: '^\\d{4}-\\d{2}-\\d{2}$', description: 'Day to report on, YYYY-MM-DD' },
        limit: { type: 'integer', title: 'Row limit', minimum: 1, maximum: 1000 },
        mode: { type: 'string', enum: ['full', 'delta'] },
        dry_run: { type: 'boolean', title: 'Dry run' },
      },
      required: ['date'],
    },
    schedules: [{ interval_seconds: 3600 }],
  });
  await ok('PUT', '/api/concurrency-limits/warehouse', { limit: 3 });
  const lease = await acquireSlot(t.rt.redis, t.rt.names, 'warehouse', { occupy: 2, leaseSeconds: 600, autoRenew: false });

  receiver.respond({ status: 204 });
  const hook = await ok<{ id: string; updated: string }>('POST', '/api/automations', {
    name: 'notify-on-completed',
    description: 'POSTs every completed pipeline run to the receiver',
    trigger: { type: 'event', expect: ['reflex.flow-run.Completed'], match_related: { 'reflex.resource.role': 'flow', 'reflex.resource.id': 'reflex.flow.dash-pipeline' } },
    actions: [{ type: 'call-webhook', url: `${receiver.url}/completed`, secret: `whsec_${Buffer.from('seeded-secret-0123456789abcdef').toString('base64')}` }],
  });
  const paging = await ok<{ id: string; updated: string }>('POST', '/api/automations', {
    name: 'page-on-errors',
    trigger: { type: 'event', expect: ['shop.error'], threshold: 3, within: 60 },
    actions: [{ type: 'call-webhook', url: `${receiver.url}/down`, retry: { attempts: 1, delay_seconds: 1 } }],
  });
  const exporting = await ok<{ id: string; updated: string }>('POST', '/api/automations', { name: 'run-report-on-export', trigger: { type: 'event', expect: ['orders.exported'] }, actions: [{ type: 'run-deployment', deployment_id: report.id, parameters: { date: '{{ event.payload.date }}' } }] });
  for (const a of [hook, paging, exporting]) await waitLoaded([t], a.id, a.updated);

  const runs: Array<{ id: string }> = [];
  for (let i = 0; i < 3; i++) runs.push(await ok<{ id: string }>('POST', `/api/deployments/${pipe.id}/runs`, { parameters: { key: `seed-${i}` } }));
  const exported = await ok<{ ids: string[] }>('POST', '/api/events', { event: 'orders.exported', resource: { 'reflex.resource.id': 'shop.eu' }, payload: { date: '2026-11-30' } });
  for (let i = 0; i < 4; i++) await ok('POST', '/api/events', { event: 'order.created', resource: { 'reflex.resource.id': `order-${1040 + i}`, region: i % 2 ? 'eu' : 'us' }, related: [{ 'reflex.resource.id': 'customer-7', 'reflex.resource.role': 'customer' }], payload: { total_cents: 1200 * (i + 1) } });

  // A day of history for the activity chart, written straight to the table (the seed is not the subject).
  await t.rt.pg.query(
    `INSERT INTO flow_runs (id, name, flow_name, deployment_id, work_pool, tags, state_type, state_name, state_timestamp, run_count,
                            expected_start_time, start_time, end_time, total_run_time_seconds, created, updated)
     SELECT gen_random_uuid(), 'backfill-' || i, 'dash-pipeline', $1::uuid, 'default', '{scoring}', s.type, s.name, c + interval '40 seconds', 1,
            c, c + interval '1 second', c + interval '40 seconds', 39, c, c
     FROM generate_series(1, 160) AS i,
          LATERAL (SELECT now() - i * interval '9 minutes' AS c) t,
          LATERAL (SELECT CASE WHEN i % 23 = 0 THEN 'CRASHED' WHEN i % 11 = 0 THEN 'FAILED' WHEN i % 17 = 0 THEN 'CANCELLED' ELSE 'COMPLETED' END AS type) st,
          LATERAL (SELECT st.type, initcap(lower(st.type)) AS name) s`,
    [pipe.id],
  );

  // A run that failed, and one that is late.
  const failed = await ok<{ id: string }>('POST', `/api/deployments/${report.id}/runs`, { parameters: { date: '2026-11-29' }, scheduled_time: new Date(Date.now() + 3600e3).toISOString() });
  await ok('POST', `/api/flow-runs/${failed.id}/set-state`, { state: { type: 'FAILED', message: 'warehouse connection refused' }, force: true });
  const late = await ok<{ id: string }>('POST', `/api/deployments/${report.id}/runs`, { parameters: { date: '2026-11-28' }, scheduled_time: new Date(Date.now() + 7200e3).toISOString() });
  await ok('POST', `/api/flow-runs/${late.id}/set-state`, { state: { type: 'SCHEDULED', name: 'Late' }, force: true });

  const endpoint = await ok<{ slug: string }>('POST', '/api/webhooks', { name: 'github-push', template: '{"event": "github.{{ headers[\'x-github-event\'] }}", "resource": {"reflex.resource.id": "repo.{{ body.repository.name }}"}}' });
  await fetch(`${t.url}/hooks/${endpoint.slug}`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"zen": "no repository here"}' });

  const warehouse = await ok<{ id: string }>('POST', '/api/deployments', { name: 'warehouse-export', flow: 'dash-failing' });
  const failedRun = await ok<{ id: string }>('POST', `/api/deployments/${warehouse.id}/runs`, {});
  await waitFor(async () => (await t.api('GET', `/api/flow-runs/${failedRun.id}`)).body.state?.type === 'FAILED', { timeoutMs: 30_000, what: 'the failing run' });
  const runId = await waitFor(async () => {
    const firing = (await t.api('GET', `/api/automations/${exporting.id}/firings`)).body.items[0];
    return firing?.actions[0]?.detail?.result?.flow_run_id as string | undefined;
  }, { timeoutMs: 30_000, what: 'the run the export started' });
  await waitFor(async () => (await t.api('GET', `/api/flow-runs/${runId}`)).body.state?.type === 'COMPLETED', { timeoutMs: 30_000, what: 'the run the export started to complete' });
  await waitFor(async () => (await t.api('GET', `/api/flow-runs/${runs[2].id}`)).body.state?.type === 'COMPLETED', { timeoutMs: 30_000, what: 'the seeded runs' });
  const deliveries = await waitFor(async () => {
    const items = (await t.api('GET', `/api/webhook-deliveries?automation_id=${hook.id}`)).body.items as Array<{ id: string; status: string }>;
    return items.filter((d) => d.status === 'succeeded').length >= 3 ? items : null;
  }, { timeoutMs: 30_000, what: 'the seeded deliveries' });
  // Only now does the receiver go down, so the failing automation's delivery is the one that fails.
  receiver.respond({ status: 503, body: 'maintenance' });
  for (let i = 0; i < 3; i++) await ok('POST', '/api/events', { event: 'shop.error', resource: { 'reflex.resource.id': 'shop.eu' }, payload: { code: 500 + i } });
  await waitFor(async () => (await t.api('GET', '/api/webhook-deliveries?status=failed')).body.items.length > 0, { timeoutMs: 30_000, what: 'the failed delivery' });
  // Resume form (issue 13): suspended, not paused, so no worker holds it while the pages are scanned.
  const release = await ok<{ id: string }>('POST', '/api/deployments', { name: 'release-approval', flow: 'dash-suspended-approval' });
  const paused = await ok<{ id: string }>('POST', `/api/deployments/${release.id}/runs`, { parameters: { timeout: 3600 } });
  await waitFor(async () => (await t.api('GET', `/api/flow-runs/${paused.id}`)).body.state?.type === 'PAUSED', { timeoutMs: 30_000, what: 'the run to suspend' });
  return { runId, failedRunId: failedRun.id, deploymentId: report.id, automationId: hook.id, deliveryId: deliveries[0].id, eventId: exported.ids[0], lease, pausedRunId: paused.id };
}
