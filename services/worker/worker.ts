import { DelayedError, type Worker } from 'bullmq';
import { JOBS } from '../../core/jobs.ts';
import type { Logger } from '../../core/log.ts';
import type { Runtime } from '../../infra/runtime.ts';
import { contextFrom, inSpan, SpanKind, trace, tracingEnabled } from '../../infra/tracing.ts';
import { recentCrashes, WorkerPresence, type Runs } from '../../modules/runs/index.ts';
import type { FlowRunJob } from '../../schemas/jobs.ts';
import { Artifacts } from '../../modules/artifacts/index.ts';
import { bindEngine, unbindEngine, type EngineClient } from '../../sdk/client.ts';
import { flowInternals } from '../../sdk/flow.ts';
import type { Service } from '../service.ts';
import type { WorkerOptions } from './config.ts';
import { failExpiredSuspensions, sweepCrashedRuns } from './crash-sweeper.ts';
import { Waits } from '../../modules/waits/index.ts';
import type { AnyFlow } from './flows-module.ts';
import { processFlowRunJob, type JobOutcome } from './processor.ts';

/** How far back crashes are looked for (their onCrashed hooks may still have to run), and how long a done mark is kept. */
const CRASH_HOOKS_WITHIN_MS = 24 * 3600 * 1000;
/** The lease of the worker running a crash's onCrashed hooks, renewed while they run. */
const CRASH_HOOK_LEASE_MS = 30_000;

/** How long stop() waits for running flows before leaving them to the crash sweeper of another worker. */
const STOP_GRACE_MS = 10_000;

/**
 * A worker of one work pool: a BullMQ Worker on the pool's queue running flow runs of the loaded flows
 * module, plus the crash sweeper. BullMQ's stalled-job check (infra/queues.ts WORKER_LOCKS) redelivers a job whose worker
 * died before starting the run; the heartbeat sweep handles a run that had started.
 */
export class FlowWorker implements Service {
  readonly name = 'worker';
  private worker: Worker<FlowRunJob, JobOutcome> | undefined;
  private client: EngineClient | undefined;
  private sweepTimer: NodeJS.Timeout | undefined;
  private sweeping: Promise<unknown> | undefined;
  private readonly log: Logger;
  private presence: WorkerPresence | undefined;
  readonly outcomes = new Map<JobOutcome, number>();

  constructor(
    private readonly rt: Runtime,
    private readonly runs: Runs,
    private readonly options: WorkerOptions,
    readonly flows: ReadonlyMap<string, AnyFlow>,
  ) {
    this.log = rt.log.child({ service: 'worker', pool: options.pool });
  }

  async start(): Promise<void> {
    const { rt, runs, options } = this;
    await runs.workPools.ensure(options.pool);
    const client = (this.client = bindEngine({ bus: rt.bus, redis: rt.redis, names: rt.names, log: rt.log, runs, config: { ...rt.config, workerHeartbeatSeconds: options.heartbeatSeconds }, artifacts: new Artifacts(rt.pg, rt.bus), pg: rt.pg }));
    const ctx = { runs, client, flows: this.flows, flowsModule: options.flowsModule, slotRetryMs: options.slotRetryMs, log: this.log };
    const m = rt.metrics;
    const pool = { pool: options.pool };
    m.workerSlots.inc(pool, options.concurrency);
    m.workerSlotsInUse.set(pool, 0);
    const run = async (job: Parameters<typeof processFlowRunJob>[1], token: string | undefined): Promise<JobOutcome> => {
      m.workerSlotsInUse.inc(pool);
      const end = m.flowRunDuration.startTimer();
      let outcome: JobOutcome | 'delayed' | 'error' = 'error';
      try {
        const traceparent = tracingEnabled() ? job.data.traceparent : undefined;
        if (!traceparent) return (outcome = await processFlowRunJob(ctx, job, token));
        // The flow run's span, child of the span that enqueued it; the flow's tasks are its children.
        const attributes = { 'reflex.flow_run.id': job.data.flow_run_id, 'reflex.flow.name': job.data.flow_name, 'reflex.flow_run.attempt': job.data.attempt, 'reflex.work_pool': options.pool };
        return (outcome = await inSpan('reflex.flow.run', { kind: SpanKind.CONSUMER, parent: contextFrom({ traceparent }), attributes, expected: (e) => e instanceof DelayedError }, async () => {
          const result = await processFlowRunJob(ctx, job, token);
          trace.getActiveSpan()?.setAttribute('reflex.flow_run.outcome', result);
          return result;
        }));
      } catch (err) {
        // A DelayedError is a job put back for later (no slot free), not a failure.
        if (err instanceof DelayedError) outcome = 'delayed';
        throw err;
      } finally {
        m.workerSlotsInUse.dec(pool);
        // Jobs that ran no flow (stale copies, refused for a slot) are counted but not timed.
        if (outcome === 'completed' || outcome === 'failed' || outcome === 'cancelled' || outcome === 'retry' || outcome === 'error') end({ ...pool, outcome });
        m.flowRunJobs.inc({ ...pool, outcome });
      }
    };
    this.worker = rt.queues.worker(JOBS.flowRun, [options.pool], (job, token) => run(job as Parameters<typeof processFlowRunJob>[1], token), {
      connectionName: `worker-${options.pool}`,
      concurrency: options.concurrency,
      maxStalledCount: 1,
    });
    this.worker.on('completed', (_job, outcome) => this.outcomes.set(outcome, (this.outcomes.get(outcome) ?? 0) + 1));
    this.worker.on('failed', (job, err) => {
      if (!(err instanceof DelayedError)) this.log.error({ err, job_id: job?.id }, 'flow run job failed');
    });
    this.worker.on('error', (err) => this.log.error({ err }, 'worker error'));
    await this.worker.waitUntilReady();
    this.presence = new WorkerPresence(rt.redis, rt.names, { pool: options.pool, concurrency: options.concurrency, heartbeatSeconds: options.heartbeatSeconds, hostname: options.hostname }, this.log);
    await this.presence.start();
    this.sweepTimer = setInterval(() => void this.sweep(), Math.max(250, Math.round(options.heartbeatSeconds * 1000)));
    this.sweepTimer.unref();
  }

  /** One crash sweep now (also run on a timer); resolves with what it changed. */
  sweep(): Promise<Awaited<ReturnType<typeof sweepCrashedRuns>> | undefined> {
    if (this.sweeping) return this.sweeping as Promise<undefined>;
    const p = sweepCrashedRuns({ pg: this.rt.pg, redis: this.rt.redis, names: this.rt.names, runs: this.runs }, {
      heartbeatSeconds: this.options.heartbeatSeconds,
      retryPolicy: (name) => {
        const f = this.flows.get(name);
        return f ? flowInternals(f).definition.options : undefined;
      },
    })
      .then(async (r) => {
        if (r.crashed.length || r.cancelled.length) this.log.warn(r, 'runs of dead processes marked');
        await this.runCrashHooks();
        const expired = await failExpiredSuspensions({ runs: this.runs, waits: this.waits });
        if (expired.length) this.log.info({ failed: expired }, 'suspended runs timed out');
        return r;
      })
      .catch((err: unknown) => {
        this.log.warn({ err }, 'crash sweep failed');
        return undefined;
      })
      .finally(() => (this.sweeping = undefined));
    this.sweeping = p;
    return p;
  }

  /**
   * The onCrashed hooks of recent crashes of this worker's flows. Whichever sweeper marked the crash (it
   * may not know the flow, or may die right after), every worker that knows a flow with onCrashed hooks
   * looks for its CRASHED states of the last day whose hooks have not run. One worker takes a lease on a
   * crash (renewed while its hooks run) and marks it done when they end, so the hooks run once; if that
   * worker dies mid-hook the lease lapses and another runs them again. They run in the background: a slow
   * hook never stalls the sweep.
   */
  private async runCrashHooks(): Promise<void> {
    const client = this.client;
    const withHooks = [...this.flows].filter(([, f]) => flowInternals(f).definition.hooks.onCrashed.length > 0).map(([name]) => name);
    if (!client || withHooks.length === 0) return;
    const crashes = (await recentCrashes(this.rt.pg, withHooks, CRASH_HOOKS_WITHIN_MS, 100)).filter((c) => !this.crashHooksRunning.has(c.state_id));
    if (crashes.length === 0) return;
    const { redis } = this.rt;
    const keys = this.rt.names.keys;
    const isDone = async (ids: string[]) => (((await redis.pipeline(ids.map((id) => ['exists', keys.crashHookDone(id)])).exec()) ?? []).map(([, v]) => Number(v) === 1));
    const done = await isDone(crashes.map((c) => c.state_id));
    for (const [i, crash] of crashes.entries()) {
      if (done[i]) continue;
      const claimKey = keys.crashHookClaim(crash.state_id);
      if ((await redis.set(claimKey, this.options.hostname, 'PX', CRASH_HOOK_LEASE_MS, 'NX')) !== 'OK') continue;
      // Another worker may have finished them between the check above and the claim.
      const [doneNow] = await isDone([crash.state_id]);
      const run = doneNow ? null : await this.runs.store.getFlowRun(crash.run_id);
      const f = run && this.flows.get(run.flow_name);
      if (!run || !f) {
        await redis.del(claimKey);
        continue;
      }
      this.crashHooksRunning.add(crash.state_id);
      const renew = setInterval(() => void redis.pexpire(claimKey, CRASH_HOOK_LEASE_MS).catch(() => {}), CRASH_HOOK_LEASE_MS / 3);
      renew.unref();
      const p = flowInternals(f)
        .runCrashedHooks(client, run, crash.state)
        .catch((err: unknown) => this.log.warn({ err, flow_run_id: run.id }, 'onCrashed hooks failed'))
        .then(() => redis.multi().set(keys.crashHookDone(crash.state_id), '1', 'PX', CRASH_HOOKS_WITHIN_MS).del(claimKey).exec())
        .catch((err: unknown) => this.log.warn({ err, flow_run_id: run.id }, 'onCrashed hooks ran; marking them done failed'))
        .finally(() => {
          clearInterval(renew);
          this.crashHooksRunning.delete(crash.state_id);
          this.hooksRunning.delete(p);
        });
      this.hooksRunning.add(p);
    }
  }

  private readonly crashHooksRunning = new Set<string>();
  private readonly hooksRunning = new Set<Promise<unknown>>();
  private waitsStore: Waits | undefined;
  private get waits(): Waits {
    return (this.waitsStore ??= new Waits(this.rt.pg));
  }

  async stop(): Promise<void> {
    clearInterval(this.sweepTimer);
    this.rt.metrics.workerSlots.dec({ pool: this.options.pool }, this.options.concurrency);
    await this.presence?.stop();
    await this.sweeping;
    await Promise.allSettled([...this.hooksRunning]);
    const worker = this.worker;
    if (worker) {
      const closing = worker.close();
      const timedOut = await Promise.race([closing.then(() => false), new Promise<boolean>((r) => setTimeout(() => r(true), STOP_GRACE_MS).unref())]);
      if (timedOut) {
        this.log.warn('flows still running at shutdown; leaving them to crash detection');
        await worker.close(true).catch(() => {});
      }
    }
    if (this.client) {
      unbindEngine(this.client);
      await this.client.store.flushLogs().catch(() => {});
    }
  }

  describe(): string {
    return `pool "${this.options.pool}", ${this.flows.size} flow(s) from ${this.options.flowsModule} (${[...this.flows.keys()].join(', ')}), concurrency ${this.options.concurrency}`;
  }
}
