import { randomBytes } from 'node:crypto';
import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadConfig } from '../core/config.ts';
import { createLogger } from '../core/log.ts';
import { resetNamespace } from '../infra/reset.ts';
import { openRuntime, type Runtime } from '../infra/runtime.ts';
import { freePort } from '../tests/support/net.ts';
import { checkCriteria, deliveriesByEvent, type CheckInput } from './checker.ts';
import type { Dependencies } from './deps.ts';
import { HeldJobsWatch } from './held.ts';
import { LoadGenerator } from './load.ts';
import { progress, snapshot, type Progress } from './observe.ts';
import { FaultReceiver } from './receiver.ts';
import { attemptSummary, recoveryMeasures } from './recovery.ts';
import type { ScenarioResult, Timeline } from './result.ts';
import type { Scenario } from './scenarios.ts';
import { Supervisor, type ServiceProcessName } from './supervisor.ts';
import { automationDocuments, DEPLOYMENTS, expectedFirings, FLOWS_MODULE, signingSecret, writeAutomationFiles, type WorkloadOptions } from './workload.ts';

export interface SuiteOptions extends WorkloadOptions {
  /** Events per second during the scenario. */
  rate: number;
  /** Seconds of load; the fault comes at t=10 s and the restart at t=13 s of it. */
  durationSeconds: number;
  /** After the load, how long to wait at most for the engine to finish its work. */
  drainSeconds: number;
  /** Deliveries due before the restart must have arrived this long after it. */
  deadlineSeconds: number;
  /** Keep the services' logs under this directory (one folder per scenario); default: deleted. */
  logsDir?: string;
  /** Progress lines (to stderr). */
  say(line: string): void;
}

/**
 * Runs one scenario from scratch: a namespace and a receiver of its own, every engine process started,
 * steady load, the fault on its timeline, the drain, the check, and everything removed again.
 */
export async function runScenario(scenario: Scenario, deps: Dependencies, o: SuiteOptions): Promise<ScenarioResult> {
  const namespace = `f_${scenario.name.replace(/[^a-z0-9]/g, '')}_${randomBytes(3).toString('hex')}`.slice(0, 40);
  const work = await mkdtemp(join(tmpdir(), 'reflex-faults-'));
  const logDir = o.logsDir ? join(o.logsDir, scenario.name) : join(work, 'logs');
  await mkdir(logDir, { recursive: true });
  const secret = signingSecret();
  const receiver = await new FaultReceiver(secret).start();
  const apiPort = await freePort();
  const automationsDir = join(work, 'automations');
  await writeAutomationFiles(automationsDir, automationDocuments(receiver.url, secret, o));
  const env = serviceEnv(namespace, deps, apiPort);
  const supervisor = new Supervisor(env, { ...env, REFLEX_AUTOMATIONS_DIR: automationsDir }, logDir, FLOWS_MODULE);
  const result: ScenarioResult = { scenario: scenario.name, description: scenario.description, namespace, passed: false, criteria: [], recovery: [], info: {}, ...(o.logsDir ? { logDir } : {}) };
  let load: LoadGenerator | undefined;
  let observer: Runtime | undefined;
  let watch: HeldJobsWatch | undefined;
  try {
    await deps.ensureRunning();
    o.say(`${scenario.name}: starting the engine's processes`);
    const loadAtStart = loadavg()[0];
    const startedAt = Date.now();
    await supervisor.startAll();
    const servicesStartMs = Date.now() - startedAt;
    const api = `http://127.0.0.1:${apiPort}`;
    for (const d of DEPLOYMENTS) await postJson(api, '/api/deployments', d, 201);

    o.say(`${scenario.name}: ${o.rate} events/s for ${o.durationSeconds} s; ${scenario.description}`);
    load = new LoadGenerator(api, { rate: o.rate });
    const ctx = { deps, supervisor, receiver };
    const t: Timeline = { loadStart: Date.now(), faultAt: 0, recoverAt: 0, readyAt: null, loadEnd: 0, drainEnd: 0, servicesStartMs };
    const generator = load;
    load.start();
    const stopping = (async () => {
      await until(t.loadStart + o.durationSeconds * 1000);
      generator.stopGenerating();
      t.loadEnd = Date.now();
    })();
    // The fault's timeline: fixed points of the load, not synchronisation.
    await until(t.loadStart + scenario.faultAtSeconds * 1000);
    watch = scenario.kind === 'service' ? await HeldJobsWatch.start(deps.redis.url, namespace, scenario.target as ServiceProcessName) : undefined;
    t.faultAt = Date.now();
    await scenario.inject(ctx);
    await watch?.sampleHeld();
    await until(t.loadStart + scenario.recoverAtSeconds * 1000);
    t.recoverAt = Date.now();
    t.readyAt = await scenario.recover(ctx).catch((err: unknown) => {
      result.info.recover_error = String(err instanceof Error ? err.message : err).slice(0, 500);
      return null;
    });
    await stopping;

    o.say(`${scenario.name}: load done; draining (at most ${o.drainSeconds} s)`);
    const deadline = t.loadEnd + o.drainSeconds * 1000;
    const settled = await load.settle(deadline);
    observer = await openRuntime(observerConfig(namespace, deps), createLogger({ level: 'silent' }), { prepare: false });
    const drained = await drain(observer, load, receiver, o, deadline);
    t.drainEnd = Date.now();
    const snap = await snapshot(observer);
    const input: CheckInput = {
      scenario,
      ledger: load.ledger,
      deliveries: receiver.deliveries,
      snap,
      timeline: t,
      supervisor,
      workload: o,
      deadlineSeconds: o.deadlineSeconds,
      apiHealthy: await healthy(api),
      held: watch?.held,
    };
    result.criteria = checkCriteria(input);
    result.recovery = recoveryMeasures(input);
    result.timeline = t;
    result.info = {
      ...result.info,
      events_sent: load.ledger.entries.length,
      ingest_settled: settled,
      drained,
      drain_seconds: Math.round((t.drainEnd - t.loadEnd) / 100) / 10,
      services_start_seconds: Math.round(servicesStartMs / 100) / 10,
      start_times_seconds: Object.fromEntries([...supervisor.processes].map(([name, p]) => [name, p.startTimes.map((ms) => Math.round(ms / 100) / 10)])),
      ingest_attempts: attemptSummary(input),
      receiver_refused: receiver.refused,
      receiver_malformed: receiver.malformed,
      outbox_rows_left: snap.outboxRows,
      // The machine is shared: figures from a loaded machine carry its queueing.
      load_average_1m: { start: Math.round(loadAtStart * 10) / 10, end: Math.round(loadavg()[0] * 10) / 10 },
    };
    result.passed = result.criteria.every((c) => c.pass);
  } catch (err) {
    result.error = err instanceof Error ? err.message : String(err);
    result.passed = false;
  } finally {
    load?.close();
    await watch?.stop();
    await supervisor.stopAll().catch(() => {});
    if (observer) {
      const { bus, redis, pg } = observer;
      await resetNamespace({ bus, redis, pg }).catch(() => {});
      await observer.close();
    }
    await receiver.stop();
    await rm(work, { recursive: true, force: true });
  }
  return result;
}

/** Polls the engine until it has done everything the accepted events ask for, or the deadline. */
async function drain(rt: Runtime, load: LoadGenerator, receiver: FaultReceiver, o: SuiteOptions, deadline: number): Promise<boolean> {
  for (;;) {
    const p: Progress | null = await progress(rt).catch(() => null);
    if (p && isDrained(p, load, receiver, o)) return true;
    if (Date.now() > deadline) return false;
    await new Promise((r) => setTimeout(r, 500));
  }
}

function isDrained(p: Progress, load: LoadGenerator, receiver: FaultReceiver, o: SuiteOptions): boolean {
  const acked = load.ledger.acknowledged();
  if (load.ledger.unacknowledged().length > 0 || p.stored < acked.length) return false;
  const expected = expectedFirings(acked.map((e) => e.n), o);
  const delivered = deliveriesByEvent(receiver.deliveries).size;
  return p.firings.webhook >= expected.webhook && p.firings.run >= expected.run && p.firings.threshold >= expected.threshold && p.eventRuns >= expected.run && p.unfinishedRuns === 0 && delivered >= expected.webhook;
}

/** The environment of every engine process: the private servers, the scenario's namespace and port. */
function serviceEnv(namespace: string, deps: Dependencies, apiPort: number): NodeJS.ProcessEnv {
  const inherited = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('REFLEX_')));
  return {
    ...inherited,
    REFLEX_NAMESPACE: namespace,
    REFLEX_NATS_URL: deps.nats.url,
    REFLEX_REDIS_URL: deps.redis.url,
    REFLEX_DATABASE_URL: deps.postgres.url,
    REFLEX_HOST: '127.0.0.1',
    REFLEX_PORT: String(apiPort),
    REFLEX_WEBHOOK_ALLOW_HOSTS: '127.0.0.1',
    REFLEX_AUTOMATIONS_DIR: '',
    REFLEX_LOG_LEVEL: process.env.FAULTS_SERVICE_LOG_LEVEL ?? 'warn',
    REFLEX_PRETTY_LOGS: 'false',
  };
}

function observerConfig(namespace: string, deps: Dependencies) {
  return loadConfig({}, { namespace, natsUrl: deps.nats.url, redisUrl: deps.redis.url, databaseUrl: deps.postgres.url, logLevel: 'silent', automationsDir: '' });
}

async function postJson(api: string, path: string, body: unknown, status: number): Promise<void> {
  const res = await fetch(`${api}${path}`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
  if (res.status !== status) throw new Error(`POST ${path} answered ${res.status}: ${await res.text()}`);
}

async function healthy(api: string): Promise<boolean> {
  try {
    return (await fetch(`${api}/api/health`, { signal: AbortSignal.timeout(5000) })).status === 200;
  } catch {
    return false;
  }
}

function until(at: number): Promise<void> {
  return new Promise((r) => setTimeout(r, Math.max(0, at - Date.now())));
}

