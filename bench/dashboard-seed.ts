import type { Runtime } from '../infra/runtime.ts';

/**
 * Seeds a namespace at the dashboard bench's scale with set-based SQL (generate_series), so 100,000 runs
 * and 1,000,000 events take seconds to write, not an hour of API calls: runs over the last 7 days in
 * every state across 10 flows, 20 deployments and 3 pools; events over the same week with related
 * resources; automations with firings; webhook deliveries with attempts. One run has tasks and logs.
 */
export interface BenchSeed {
  runs: number;
  events: number;
  runId: string;
  deploymentId: string;
  automationId: string;
  deliveryId: string;
  eventId: string;
}

const STATES = `(ARRAY['COMPLETED','COMPLETED','COMPLETED','COMPLETED','COMPLETED','COMPLETED','FAILED','CRASHED','CANCELLED','RUNNING','SCHEDULED','PENDING'])`;

export async function seedBench(rt: Runtime, counts: { runs: number; events: number }, progress: (what: string) => void): Promise<BenchSeed> {
  const q = (sql: string, params: unknown[] = []) => rt.pg.query(sql, params);
  await q(`INSERT INTO work_pools (name) SELECT 'pool-' || i FROM generate_series(0, 2) i`);
  await q(
    `INSERT INTO deployments (id, name, flow_name, work_pool, schedules, tags)
     SELECT gen_random_uuid(), 'deployment-' || i, 'flow-' || (i % 10), 'pool-' || (i % 3), '[{"cron": "0 * * * *", "timezone": "UTC", "active": true}]', ARRAY['team-' || (i % 4)]
     FROM generate_series(0, 19) i`,
  );
  progress('runs');
  // In chunks, so one statement never holds a huge transaction on this small machine.
  for (let from = 0; from < counts.runs; from += 25_000) {
    await q(
      `INSERT INTO flow_runs (id, name, flow_name, deployment_id, work_pool, parameters, tags, state_type, state_name, state_timestamp, run_count,
                              expected_start_time, start_time, end_time, total_run_time_seconds, created, updated, idempotency_key)
       SELECT gen_random_uuid(), 'run-' || i || '-' || substr(md5(i::text), 1, 6), d.flow_name, d.id, d.work_pool, jsonb_build_object('n', i), d.tags,
              s.t, CASE WHEN s.t = 'SCHEDULED' AND i % 7 = 0 THEN 'Late' ELSE initcap(lower(s.t)) END, c + interval '30 seconds', 1,
              c, c, CASE WHEN s.t IN ('COMPLETED','FAILED','CRASHED','CANCELLED') THEN c + interval '30 seconds' END, 30, c, c,
              CASE WHEN i % 3 = 0 THEN 'schedule:' || d.id || ':' || to_char(c, 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"') END
       FROM generate_series($1::int, $2::int) i
       JOIN LATERAL (SELECT now() - (i::float8 / $3) * interval '7 days' AS c) t ON true
       JOIN LATERAL (SELECT ${STATES}[1 + (i * 7919) % 12] AS t) s ON true
       JOIN (SELECT id, flow_name, work_pool, tags, row_number() OVER (ORDER BY name) - 1 AS k FROM deployments) d ON d.k = i % 20`,
      [from, Math.min(counts.runs, from + 25_000) - 1, counts.runs],
    );
  }
  const run = await q(`SELECT id, deployment_id FROM flow_runs ORDER BY created DESC LIMIT 1`);
  const runId = run.rows[0].id as string;
  await q(
    `INSERT INTO task_runs (id, flow_run_id, task_name, dynamic_key, state_type, state_name, state_timestamp, run_count, start_time, end_time, created)
     SELECT gen_random_uuid(), $1, 'task-' || (i % 5), 'task-' || (i % 5) || '-' || i, 'COMPLETED', 'Completed', now(), 1 + (i % 2), now() - interval '1 minute', now(), now()
     FROM generate_series(1, 50) i`,
    [runId],
  );
  await q(
    `INSERT INTO logs (flow_run_id, level, message, timestamp) SELECT $1, (ARRAY[20,30,30,30,40,50])[1 + i % 6], 'log line ' || i, now() FROM generate_series(1, 2000) i`,
    [runId],
  );
  await q(`INSERT INTO flow_run_states (id, flow_run_id, type, name, timestamp) SELECT gen_random_uuid(), $1, t, initcap(lower(t)), now() FROM unnest(ARRAY['SCHEDULED','PENDING','RUNNING']) t`, [runId]);

  progress('events');
  for (let from = 0; from < counts.events; from += 100_000) {
    await q(
      `INSERT INTO events (id, occurred, received, event, resource_id, resource, related, payload)
       SELECT gen_random_uuid(), c, c, e.name, 'res-' || (i % 10000), jsonb_build_object('reflex.resource.id', 'res-' || (i % 10000), 'region', (ARRAY['eu','us','ap'])[1 + i % 3]),
              CASE WHEN i % 4 = 0 THEN jsonb_build_array(jsonb_build_object('reflex.resource.id', 'customer-' || (i % 5000), 'reflex.resource.role', 'customer')) ELSE '[]'::jsonb END,
              jsonb_build_object('n', i, 'total_cents', i % 10000)
       FROM generate_series($1::int, $2::int) i
       JOIN LATERAL (SELECT now() - (i::float8 / $3) * interval '7 days' AS c) t ON true
       JOIN LATERAL (SELECT (ARRAY['order.created','order.paid','order.shipped','invoice.sent','user.signed-up','reflex.flow-run.Completed','reflex.flow-run.Running','shop.error'])[1 + i % 8] AS name) e ON true`,
      [from, Math.min(counts.events, from + 100_000) - 1, counts.events],
    );
  }
  const event = await q(`SELECT id FROM events ORDER BY occurred DESC LIMIT 1`);

  progress('automations');
  await q(
    `INSERT INTO automations (id, name, enabled, document)
     SELECT gen_random_uuid(), 'automation-' || i, i % 5 <> 0,
            jsonb_build_object('name', 'automation-' || i, 'description', '', 'enabled', i % 5 <> 0, 'tags', jsonb_build_array(),
                               'trigger', jsonb_build_object('type', 'event', 'expect', jsonb_build_array('order.created')),
                               'actions', jsonb_build_array(jsonb_build_object('type', 'call-webhook', 'url', 'https://example.invalid/hook', 'secret', 'whsec_c2VjcmV0')),
                               'actions_on_resolve', jsonb_build_array())
     FROM generate_series(0, 49) i`,
  );
  await q(
    `INSERT INTO automation_firings (id, firing_key, automation_id, state, fired_at, trigger_path, bucket_key, triggering_event, count, actions)
     SELECT gen_random_uuid(), md5(i::text), a.id, 'triggered', now() - (i::float8 / 50000) * interval '7 days', '', '',
            jsonb_build_object('id', gen_random_uuid(), 'event', 'order.created', 'resource', jsonb_build_object('reflex.resource.id', 'res-' || i)), 1,
            jsonb_build_array(jsonb_build_object('index', 0, 'type', 'call-webhook', 'status', CASE WHEN i % 20 = 0 THEN 'failed' ELSE 'executed' END))
     FROM generate_series(0, 49999) i JOIN (SELECT id, row_number() OVER (ORDER BY name) - 1 AS k FROM automations) a ON a.k = i % 50`,
  );
  const automation = await q(`SELECT id FROM automations ORDER BY name LIMIT 1`);
  await q(
    `INSERT INTO webhook_deliveries (id, idempotency_key, automation_id, url, method, body, timeout_seconds, retry, status, attempt_count, last_status_code, created, updated)
     SELECT gen_random_uuid()::text, 'k' || i, a.id::text, 'https://receiver-' || (i % 20) || '.example.invalid/hook', 'POST', '{"n":' || i || '}', 10,
            '{"attempts": 8, "delay_seconds": 5}', (ARRAY['succeeded','succeeded','succeeded','failed','retrying'])[1 + i % 5], 1, 200,
            now() - (i::float8 / 50000) * interval '7 days', now()
     FROM generate_series(0, 49999) i JOIN (SELECT id, row_number() OVER (ORDER BY name) - 1 AS k FROM automations) a ON a.k = i % 50`,
  );
  await q(
    `INSERT INTO webhook_attempts (delivery_id, series, attempt, started, status_code, latency_ms, response_headers, response_body, outcome)
     SELECT id, 1, 1, created, 200, 12, '{"content-type": "text/plain"}', 'ok', 'succeeded' FROM webhook_deliveries`,
  );
  const delivery = await q(`SELECT id FROM webhook_deliveries ORDER BY created DESC LIMIT 1`);
  progress('analyze');
  await q('ANALYZE');
  return {
    runs: counts.runs,
    events: counts.events,
    runId,
    deploymentId: run.rows[0].deployment_id,
    automationId: automation.rows[0].id,
    deliveryId: delivery.rows[0].id,
    eventId: event.rows[0].id,
  };
}
