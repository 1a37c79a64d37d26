import type { JsMsg } from '@nats-io/jetstream';
import type { Config } from '../../core/config.ts';
import { isEventShape } from '../../core/events.ts';
import { ENGINE_EVENT_PREFIX } from '../../core/names.ts';
import { BatchConsumer } from '../../infra/batch-consumer.ts';
import { isConsumerNotFound } from '../../infra/nats-errors.ts';
import type { Runtime } from '../../infra/runtime.ts';
import { evaluationSpans } from './tracing.ts';
import { announceAutomationChange, applyAutomationFiles, eventOps, Evaluator, parseBucketStateKey, parseFlowStateKey, RedisStateStore, type Computed, type Op } from '../../modules/automations/index.ts';
import type { ReflexEvent } from '../../schemas/event.ts';
import type { Modules } from '../modules.ts';
import type { Service } from '../service.ts';
import { AutomationCache } from './cache.ts';
import { dispatchFirings, type DispatchDeps } from './dispatch.ts';
import { ActionExecutor } from './executor.ts';
import { liveActionDeps } from './live-actions.ts';
import { DirectDeliveries } from './direct-deliveries.ts';
import { MetricMonitor } from './metrics.ts';
import { VariableCache } from '../../modules/variables/index.ts';
import { AddressGuard, DeliveryLog, WebhookSender } from '../../modules/webhooks/index.ts';

/** Batches whose firings may be dispatching while the next batch is evaluated. */
const MAX_DISPATCHES_IN_FLIGHT = 2;

/**
 * A new engine-events consumer starts this long before the earliest save of the automations that watch
 * engine events (allowance for the Postgres and NATS clocks), and no earlier than ENGINE_REPLAY_MAX_MS
 * before now: an automation enabled again long after its last edit sees what comes after its enabling, as
 * it would have on the one consumer (events evaluated once the replica loaded it).
 */
const ENGINE_START_MARGIN_MS = 2000;
const ENGINE_REPLAY_MAX_MS = 10_000;

const CONSUMER_OPTIONS = { maxBatch: 2000, prefetch: 4000, minBatchIntervalMs: 3 };

export interface AutomationsOptions {
  /** How often each replica looks for due proactive deadlines. */
  timerPollMs?: number;
  /** Committed firings older than this with no dispatch are finished by any replica. */
  pendingGraceMs?: number;
}

/**
 * The automation service: evaluates the event stream (durable consumer, work shared between replicas),
 * fires proactive deadlines from Redis, dispatches firings and executes actions. All trigger state is in
 * Redis, so replicas share it and a restart loses nothing.
 */
export class AutomationsService implements Service {
  readonly name = 'automations';
  private readonly log;
  private readonly store: RedisStateStore;
  private readonly evaluator: Evaluator;
  private readonly executor: ActionExecutor;
  private readonly cache: AutomationCache;
  private consumer: BatchConsumer | undefined;
  /** The consumer of the engine's events, while some automation can match one (see syncEngineConsumer). */
  private engineConsumer: BatchConsumer | undefined;
  /** Whether this replica has made sure no engine consumer is left while none is needed. */
  private engineAbsent = false;
  private engineSync: Promise<void> = Promise.resolve();
  private timers: NodeJS.Timeout[] = [];
  private ticking = false;
  private nextWake: { at: number; handle: NodeJS.Timeout } | null = null;
  /** A tick asked for while one ran: run again at its end (a wake-up must not be lost to a poll). */
  private tickAgain = false;
  private sweeping = false;
  private stopped = false;
  private readonly decoder = new TextDecoder();
  private readonly inFlight = new Set<Promise<void>>();
  private readonly dispatchDeps: DispatchDeps;
  private readonly direct: DirectDeliveries | undefined;

  private readonly config: Pick<Config, 'automationsDir' | 'metricLoopSeconds'>;
  /** Metric triggers (issue 15), evaluated on a loop of their own. */
  readonly metrics: MetricMonitor;
  private measuring = false;

  constructor(
    private readonly rt: Runtime,
    modules: Modules,
    private readonly options: AutomationsOptions = {},
  ) {
    this.log = rt.log.child({ service: 'automations' });
    this.config = rt.config;
    this.store = new RedisStateStore(rt.redis, rt.names);
    this.evaluator = new Evaluator(this.store);
    this.direct = rt.config.webhookDirect
      ? new DirectDeliveries(
          new WebhookSender(rt.bus, new AddressGuard(rt.config.webhookAllowHosts), new DeliveryLog(rt.pg, this.log), this.log, rt.metrics, modules.deliverySecrets),
          modules.deliveries,
          this.log,
          { hostConcurrency: rt.config.webhookHostConcurrency, metrics: rt.metrics },
        )
      : undefined;
    const actions = liveActionDeps({
      pg: rt.pg,
      bus: rt.bus,
      nats: rt.nats,
      names: rt.names,
      log: this.log,
      commands: modules.runs.commands,
      deliveries: modules.deliveries,
      direct: this.direct,
      maxPayloadBytes: rt.config.maxPayloadBytes,
      variables: new VariableCache(rt.pg, rt.config.variablesCacheSeconds * 1000),
      publicUrl: rt.config.publicUrl,
    });
    const flowRun = (id: string) => modules.runs.store.getFlowRun(id);
    this.executor = new ActionExecutor({ pg: rt.pg, bus: rt.bus, queues: rt.queues, log: this.log, actions, flowRun, metrics: rt.metrics }, rt.config.actionConcurrency);
    this.dispatchDeps = { pg: rt.pg, bus: rt.bus, queues: rt.queues, log: this.log, store: this.store, automations: (id) => this.lookup(id), actions, flowRun, metrics: rt.metrics };
    this.metrics = new MetricMonitor({
      pg: rt.pg,
      store: this.store,
      log: this.log,
      plans: () => this.cache.index.plans.values(),
      dispatch: (firings) => dispatchFirings(this.dispatchDeps, firings),
    });
    this.cache = new AutomationCache({ pg: rt.pg, nats: rt.nats, changes: rt.names.controlSubjects.automationChanges, log: this.log }, async (added) => {
      const now = Date.now();
      for (const plan of added) await this.evaluator.arm(plan, now);
      // A failure is logged; the sweep tries again (the users' events must not wait for the engine's).
      await this.syncEngineConsumer().catch(() => {});
    });
  }

  async start(): Promise<void> {
    const dir = this.config.automationsDir;
    if (dir) {
      const report = await applyAutomationFiles(this.rt.pg, dir);
      if (report.created.length || report.changed.length) announceAutomationChange(this.rt.nats, this.rt.names, this.log);
      this.log.info(report, `applied automation files from ${dir}`);
    }
    await this.cache.start();
    this.executor.start();
    // Users' events only: the engine's outcome events (most of the stream under load) never reach this
    // consumer; the engine consumer reads them while an automation can match one.
    const durable = await this.rt.bus.consumer(this.rt.names.consumers.automations, { filter: this.rt.names.eventTrees.users });
    this.consumer = new BatchConsumer(durable, (batch) => this.handle(batch), this.log, CONSUMER_OPTIONS);
    await this.consumer.start();
    this.timers.push(setInterval(() => void this.tick(), this.options.timerPollMs ?? 200));
    this.timers.push(setInterval(() => void this.sweep(), 1000));
    if (this.config.metricLoopSeconds > 0) this.timers.push(setInterval(() => void this.measure(), this.config.metricLoopSeconds * 1000));
  }

  /** One pass of the metric triggers; a pass still running when the next is due is not doubled. */
  private async measure(): Promise<void> {
    if (this.measuring || this.stopped) return;
    this.measuring = true;
    try {
      await this.metrics.tick();
    } catch (err) {
      this.log.error({ err }, 'metric trigger pass failed');
    } finally {
      this.measuring = false;
    }
  }

  async stop(): Promise<void> {
    this.stopped = true;
    for (const t of this.timers) clearInterval(t);
    if (this.nextWake) clearTimeout(this.nextWake.handle);
    await this.engineSync.catch(() => {});
    await Promise.all([this.consumer?.stop(), this.engineConsumer?.stop()]);
    await Promise.allSettled([...this.inFlight]);
    await this.cache.stop();
    await this.executor.stop();
    await this.direct?.stop();
  }

  describe(): string {
    return `evaluating ${this.cache.index.plans.size} enabled automations`;
  }

  /** Whether this replica evaluates the automation now (its current version, enabled). */
  isLoaded(id: string, updated?: string): boolean {
    const plan = this.cache.index.plans.get(id);
    return Boolean(plan && (!updated || plan.automation.updated === updated));
  }

  private lookup = (id: string) => this.cache.index.plans.get(id)?.automation;

  /**
   * Reads the engine's subject tree while some enabled automation can match an engine event, and not
   * otherwise (then the outcome events cost this service nothing). Every replica reconciles after each
   * reload, and on its sweep after a failure. The durable consumer is shared by the replicas (each
   * message is evaluated by one) and kept across restarts; it is made, when missing, at the save of the
   * earliest watching automation (bounded, see ENGINE_REPLAY_MAX_MS), and deleted when none is left. A
   * replica with an older view may delete it just after another made it, or make one just before another
   * deletes it: the next reload puts it right, and messages read twice are applied once (stream sequences
   * marked applied in the commit, firing and action ids derived from the firing key).
   */
  private syncEngineConsumer(): Promise<void> {
    const run = async () => {
      if (this.stopped) return;
      const watchers = this.cache.index.engineWatchers;
      const n = this.rt.names;
      if (watchers.length > 0) {
        if (this.engineConsumer) return;
        const saved = Math.min(...watchers.map((p) => Date.parse(p.automation.updated)));
        const start = new Date(Math.max(saved, Date.now() - ENGINE_REPLAY_MAX_MS) - ENGINE_START_MARGIN_MS);
        const durable = await this.rt.bus.consumer(n.consumers.automationsEngine, { filter: n.eventTrees.engine, startTime: start });
        const consumer = new BatchConsumer(durable, (batch) => this.handle(batch), this.log, CONSUMER_OPTIONS);
        await consumer.start();
        this.engineConsumer = consumer;
        this.engineAbsent = false;
        this.log.info({ automations: watchers.map((p) => p.automation.id), start: start.toISOString() }, 'reading the engine events: an automation can match them');
        return;
      }
      if (this.engineAbsent) return;
      const consumer = this.engineConsumer;
      this.engineConsumer = undefined;
      await consumer?.stop();
      await this.rt.bus.jsm.consumers.delete(n.streams.events, n.consumers.automationsEngine).catch((err: unknown) => {
        if (!isConsumerNotFound(err)) throw err;
      });
      this.engineAbsent = true;
      if (consumer) this.log.info('no longer reading the engine events: no automation can match them');
    };
    const next = this.engineSync.then(run);
    this.engineSync = next.catch((err) => this.log.error({ err }, 'could not set up the engine events consumer; retrying'));
    return next;
  }

  /** True when the engine consumer is not in the state the loaded automations need (a failed sync). */
  private engineOutOfSync(): boolean {
    const needed = this.cache.index.engineWatchers.length > 0;
    return needed ? !this.engineConsumer : !this.engineAbsent;
  }

  /** One consumer batch: evaluate, commit state, dispatch firings, then ack (after this returns). */
  private async handle(batch: JsMsg[]): Promise<{ settled: Promise<void> }> {
    const events: ReflexEvent[] = [];
    const seqs: number[] = [];
    const good: JsMsg[] = [];
    let redelivered = false;
    const index = this.cache.index;
    let skipped = 0;
    for (const m of batch) {
      // An outcome event no automation can match: nothing to evaluate, no need to decode it.
      const name = this.rt.names.eventNameFromSubject(m.subject);
      if (name.startsWith(ENGINE_EVENT_PREFIX) && !index.engineEventMayMatch(name)) {
        good.push(m);
        skipped += 1;
        continue;
      }
      let event: unknown;
      try {
        event = JSON.parse(this.decoder.decode(m.data));
      } catch {
        event = undefined;
      }
      if (!isEventShape(event)) {
        // Not an event (another publisher): nothing to evaluate; the recorder keeps it as a dead letter. A
        // reason would make NATS 2.9 ignore the term (it knows only the bare `+TERM`) and bring it back.
        m.term();
        continue;
      }
      events.push(event);
      seqs.push(m.seq);
      redelivered ||= m.redelivered;
      good.push(m);
    }
    if (events.length === 0 && skipped > 0) {
      for (const m of good) m.ack();
      return { settled: Promise.resolve() };
    }
    const ops = eventOps(index, events, seqs);
    if (ops.length > 0) this.rt.metrics.automationEvaluations.inc({ kind: 'event' }, ops.length);
    // Tracing on: a span per traced event, child of its publisher's (the NATS headers); its firings'
    // actions run inside it. Off: undefined, nothing made.
    const spans = evaluationSpans(good, events, ops);
    const result = await this.evaluator.run(ops, Date.now(), { messages: seqs, redelivered });
    this.wake(result);
    // Dispatch overlaps the evaluation of the next batch (state is already committed); acks wait for it.
    const done = dispatchFirings(this.dispatchDeps, result.firings, { pending: result.pending, traceOf: spans?.contextOf }).finally(() => spans?.end()).then(
      () => {
        for (const m of good) m.ack();
      },
      (err) => {
        // Committed firings stay pending in Redis (the sweep finishes them); the events come back and
        // are recognised as applied.
        this.log.error({ err }, 'dispatching firings failed; the batch will be redelivered');
        for (const m of good) m.nak(1000);
      },
    );
    this.inFlight.add(done);
    void done.finally(() => this.inFlight.delete(done));
    if (this.inFlight.size >= MAX_DISPATCHES_IN_FLIGHT) await Promise.race(this.inFlight);
    return { settled: done };
  }

  /** Fires proactive windows whose deadline passed; version checks make exactly one replica win. */
  private async tick(): Promise<void> {
    if (this.stopped) return;
    if (this.ticking) {
      this.tickAgain = true;
      return;
    }
    this.ticking = true;
    let failed = false;
    try {
      const now = Date.now();
      const due = await this.store.dueTimers(now, 500);
      if (due.length === 0) return;
      const ops: Op[] = [];
      const drop: string[] = [];
      for (const key of due) {
        const flow = parseFlowStateKey(key);
        if (flow) {
          const plan = this.cache.index.plans.get(flow.automationId);
          if (plan) ops.push({ kind: 'flow', seq: ops.length, at: now, plan, key });
          else await this.store.postponeTimer(key, now + 5000);
          continue;
        }
        const ref = parseBucketStateKey(key);
        const plan = ref ? this.cache.index.plans.get(ref.automationId) : undefined;
        if (!ref || !plan) {
          // Paused (or deleted: deletion removes timers) automations keep their deadlines for later.
          await this.store.postponeTimer(key, now + 5000);
          continue;
        }
        const leaf = plan.leaves.find((l) => l.path === ref.path);
        if (plan.hash !== ref.hash || !leaf) {
          drop.push(key);
          continue;
        }
        ops.push({ kind: 'tick', seq: ops.length, at: now, plan, leaf, key });
      }
      if (drop.length > 0) await this.store.commit({ writes: [], timers: drop.map((key) => ({ key, at: null })), pending: [] });
      if (ops.length > 0) this.rt.metrics.automationEvaluations.inc({ kind: 'deadline' }, ops.length);
      const result = await this.evaluator.run(ops, now);
      this.wake(result);
      await dispatchFirings(this.dispatchDeps, result.firings, { pending: result.pending });
    } catch (err) {
      failed = true;
      this.log.error({ err }, 'proactive timer evaluation failed; retrying');
    } finally {
      // After a failure the poll retries: a wake-up at a deadline already due would spin.
      if (!failed) await this.store.nextTimer().then((at) => at !== null && this.wakeAt(Math.max(at, Date.now() + 5)), () => {});
      this.ticking = false;
      if (this.tickAgain && !this.stopped) {
        this.tickAgain = false;
        void this.tick();
      }
    }
  }

  /**
   * Flow-control deadlines (a debounce's quiet period, a throttle slot) are due at a precise moment: the
   * poll alone would add up to a poll interval to each. Each replica keeps one wake-up at the earliest
   * deadline it knows of (from its own commits, and the timer set after each tick); the poll remains the
   * fallback. Replicas waking together race on versions as polls do: one wins.
   */
  private wake(result: Pick<Computed, 'timers'>): void {
    let next = Infinity;
    for (const t of result.timers) if (t.at !== null) next = Math.min(next, t.at);
    this.wakeAt(next);
  }

  private wakeAt(at: number): void {
    if (this.stopped || !Number.isFinite(at)) return;
    const delay = Math.max(0, at - Date.now() + 1);
    // A deadline more than a minute out is set later: every tick (polls too) looks at the earliest one.
    // A later deadline than the one set changes nothing.
    if (delay > 60_000 || (this.nextWake !== null && this.nextWake.at <= at)) return;
    if (this.nextWake) clearTimeout(this.nextWake.handle);
    const handle = setTimeout(() => {
      this.nextWake = null;
      void this.tick();
    }, delay);
    handle.unref();
    this.nextWake = { at, handle };
  }

  /** Finishes firings a crashed replica committed but did not dispatch. */
  private async sweep(): Promise<void> {
    if (this.sweeping || this.stopped) return;
    this.sweeping = true;
    if (this.engineOutOfSync()) void this.syncEngineConsumer().catch(() => {});
    try {
      const stale = await this.store.stalePending(this.options.pendingGraceMs ?? 10_000);
      if (stale.length > 0) {
        this.log.warn({ count: stale.length }, 'dispatching firings left pending by another replica');
        await dispatchFirings(this.dispatchDeps, stale, { again: true });
      }
    } catch (err) {
      this.log.error({ err }, 'pending firing sweep failed');
    } finally {
      this.sweeping = false;
    }
  }
}
