import { randomBytes } from 'node:crypto';
import { loadConfig } from '../core/config.ts';
import { createLogger } from '../core/log.ts';
import { resetNamespace } from '../infra/reset.ts';
import { openRuntime } from '../infra/runtime.ts';
import { buildApp } from '../services/api/app.ts';
import { createModules } from '../services/modules.ts';
import { seedBench, type BenchSeed } from './dashboard-seed.ts';
import { percentile, type BenchResult, type BenchRow } from './report.ts';

/**
 * `npm run bench -- dashboard`: the API calls each dashboard page makes, against a namespace holding
 * 100,000 flow runs and 1,000,000 events (BENCH_DASHBOARD_RUNS, BENCH_DASHBOARD_EVENTS), measured over
 * the API's HTTP port as the browser makes them. Each page's calls run together (as the page does),
 * BENCH_ITERATIONS times after a warm-up; every call's p95 is aimed under 300 ms.
 */

const RUNS = Number(process.env.BENCH_DASHBOARD_RUNS ?? 100_000);
const EVENTS = Number(process.env.BENCH_DASHBOARD_EVENTS ?? 1_000_000);
const ITERATIONS = Number(process.env.BENCH_ITERATIONS ?? 40);

type Call = { label: string; method?: 'GET' | 'POST'; path: string; body?: unknown };

function range(hours: number) {
  const until = new Date(Date.now() + 1000);
  return `since=${new Date(until.getTime() - hours * 3600e3).toISOString()}&until=${until.toISOString()}`;
}

function pages(s: BenchSeed, cursor: string): Record<string, Call[]> {
  const day = range(24);
  const week = range(24 * 7);
  const hourAgo = new Date(Date.now() - 3600e3).toISOString();
  return {
    overview: [
      { label: 'flow-runs/history 24h', path: `/api/flow-runs/history?${day}&buckets=48` },
      { label: 'overview 24h', path: `/api/overview?${day}` },
      { label: 'work-pool-status', path: '/api/work-pool-status' },
    ],
    'overview 7d': [{ label: 'flow-runs/history 7d', path: `/api/flow-runs/history?${week}&buckets=48` }],
    runs: [{ label: 'flow-runs/search 24h', path: `/api/flow-runs/search?${day}&limit=50` }],
    'runs filtered': [
      { label: 'search state=FAILED 7d', path: `/api/flow-runs/search?${week}&state=FAILED&limit=50` },
      { label: 'search Late 7d', path: `/api/flow-runs/search?${week}&state=Late&limit=50` },
      { label: 'search name q 7d', path: `/api/flow-runs/search?${week}&q=99-&limit=50` },
      { label: 'search pool+tag 7d', path: `/api/flow-runs/search?${week}&work_pool=pool-1&tag=team-1&limit=50` },
      { label: 'search deployment 7d', path: `/api/flow-runs/search?${week}&deployment_id=${s.deploymentId}&limit=50` },
      { label: 'search page 2', path: `/api/flow-runs/search?${week}&limit=50&cursor=${cursor}` },
      { label: 'search oldest first 7d', path: `/api/flow-runs/search?${week}&order=asc&limit=50` },
    ],
    run: [
      { label: 'flow-runs/{id}', path: `/api/flow-runs/${s.runId}` },
      { label: 'flow-runs/{id}/cause', path: `/api/flow-runs/${s.runId}/cause` },
      { label: 'logs/search', path: `/api/flow-runs/${s.runId}/logs/search?limit=1000` },
      { label: 'logs/search level+q', path: `/api/flow-runs/${s.runId}/logs/search?min_level=40&q=line%201` },
    ],
    deployments: [{ label: 'deployments', path: '/api/deployments?limit=500' }],
    deployment: [
      { label: 'deployments/{id}', path: `/api/deployments/${s.deploymentId}` },
      { label: 'deployments/{id}/plan', path: `/api/deployments/${s.deploymentId}/plan?count=5` },
      { label: 'recent runs 30d', path: `/api/flow-runs/search?deployment_id=${s.deploymentId}&${range(24 * 30)}&limit=10` },
    ],
    events: [
      { label: 'events/filter 1h', method: 'POST', path: '/api/events/filter', body: { occurred_after: hourAgo, limit: 50 } },
      { label: 'events/filter name 1h', method: 'POST', path: '/api/events/filter', body: { event: ['order.*'], occurred_after: hourAgo, limit: 50 } },
      { label: 'events/filter related', method: 'POST', path: '/api/events/filter', body: { related_id: ['customer-42'], limit: 50 } },
      { label: 'events/{id}', path: `/api/events/${s.eventId}` },
    ],
    automations: [{ label: 'automations/summary 24h', path: `/api/automations/summary?${day}` }],
    automation: [
      { label: 'automations/{id}', path: `/api/automations/${s.automationId}` },
      { label: 'automation-firings 24h', path: `/api/automation-firings?automation_id=${s.automationId}&${day}&limit=50` },
    ],
    deliveries: [
      { label: 'webhook-deliveries 24h', path: `/api/webhook-deliveries?${day}&limit=50` },
      { label: 'webhook-deliveries failed', path: `/api/webhook-deliveries?status=failed&${day}&limit=50` },
      { label: 'webhooks', path: '/api/webhooks' },
    ],
    delivery: [
      { label: 'webhook-deliveries/{id}', path: `/api/webhook-deliveries/${s.deliveryId}` },
      { label: 'attempts', path: `/api/webhook-deliveries/${s.deliveryId}/attempts` },
    ],
    concurrency: [{ label: 'concurrency-limits', path: '/api/concurrency-limits' }],
  };
}

export async function run(): Promise<BenchResult> {
  const namespace = `bench_dash_${randomBytes(4).toString('hex')}`;
  const config = loadConfig(process.env, { namespace, logLevel: 'warn', automationsDir: '', port: 0, dashboard: false });
  const rt = await openRuntime(config, createLogger({ level: 'warn' }));
  const modules = createModules(rt);
  const app = await buildApp(rt, modules);
  try {
    const t0 = performance.now();
    const seed = await seedBench(rt, { runs: RUNS, events: EVENTS }, (what) => process.stderr.write(`seeding ${what}…\n`));
    const seedSeconds = (performance.now() - t0) / 1000;
    const base = await app.listen({ host: '127.0.0.1', port: 0 });
    const call = async (c: Call) => {
      const started = performance.now();
      const res = await fetch(base + c.path, { method: c.method ?? 'GET', headers: c.body ? { 'content-type': 'application/json' } : {}, body: c.body ? JSON.stringify(c.body) : undefined });
      const text = await res.text();
      if (!res.ok) throw new Error(`${c.label}: ${res.status} ${text.slice(0, 300)}`);
      return { ms: performance.now() - started, text };
    };
    const first = JSON.parse((await call({ label: 'cursor', path: `/api/flow-runs/search?${range(24 * 7)}&limit=50` })).text) as { next_cursor: string };
    const plan = pages(seed, first.next_cursor);
    const samples = new Map<string, number[]>();
    const pageSamples = new Map<string, number[]>();
    for (let i = -3; i < ITERATIONS; i++) {
      for (const [page, calls] of Object.entries(plan)) {
        const started = performance.now();
        const results = await Promise.all(calls.map(call));
        if (i < 0) continue; // warm-up
        (pageSamples.get(page) ?? pageSamples.set(page, []).get(page)!).push(performance.now() - started);
        calls.forEach((c, j) => (samples.get(`${page}: ${c.label}`) ?? samples.set(`${page}: ${c.label}`, []).get(`${page}: ${c.label}`)!).push(results[j].ms));
      }
    }
    const rows: BenchRow[] = [];
    for (const [label, xs] of samples) rows.push({ metric: `${label} p95`, value: Math.round(percentile(xs.sort((a, b) => a - b), 95) * 10) / 10, unit: 'ms', target: '< 300' });
    for (const [page, xs] of pageSamples) rows.push({ metric: `page ${page} (all calls) p95`, value: Math.round(percentile(xs.sort((a, b) => a - b), 95) * 10) / 10, unit: 'ms' });
    return {
      name: 'dashboard',
      rows,
      notes: { flow_runs: seed.runs, events: seed.events, iterations: ITERATIONS, seed_seconds: Math.round(seedSeconds), cpus: (await import('node:os')).cpus().length },
    };
  } finally {
    await app.close();
    await modules.runs.drain();
    await resetNamespace(rt).catch(() => {});
    await rt.close();
  }
}
