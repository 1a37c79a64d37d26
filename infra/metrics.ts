import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from 'prom-client';

/**
 * One read of a dependency, answering how to set the gauges it owns: they are set only when the read
 * finished in time, so a late answer never overwrites a later scrape's values.
 */
export type Collector = () => Promise<() => void>;

/**
 * The Prometheus metrics of one process (docs/operations.md lists each and what it tells you). One
 * registry per runtime, not prom-client's global one, so several engines in one process (the tests) never
 * mix their counts.
 *
 * Counters and histograms are updated where the work happens (cheap: a map lookup and an add). Gauges of
 * state held by a dependency (consumer lag, queue depths, backlogs) are read lazily, on scrape, by
 * collectors run in parallel, each bounded by a timeout: a scrape while Redis or PostgreSQL is down answers
 * at once with `reflex_metrics_source_up{source} 0` for what it could not read (and those gauges left
 * empty rather than stale), never hangs.
 */
export class Metrics {
  readonly registry = new Registry();
  private readonly collectors = new Map<string, () => Promise<void>>();

  readonly eventsIngested = this.counter('reflex_events_ingested_total', 'Events accepted by the API and published to JetStream, by entry point', ['source']);
  readonly eventsRecorded = this.counter('reflex_events_recorded_total', 'Events stored in PostgreSQL by the recorder');
  readonly eventsDeadLettered = this.counter('reflex_events_dead_lettered_total', 'Stream messages no insert could store, kept as dead letters, by consumer', ['consumer']);
  readonly automationEvaluations = this.counter('reflex_automation_evaluations_total', 'Trigger evaluations: one per (event, matching trigger) or proactive deadline, by kind', ['kind']);
  readonly automationFirings = this.counter('reflex_automation_firings_total', 'Automation firings dispatched, by firing state', ['state']);
  readonly automationActions = this.counter('reflex_automation_actions_total', 'Automation action outcomes, by action type and outcome (executed, failed; retry = queued after an outage)', ['type', 'outcome']);
  readonly deliveries = this.counter('reflex_webhook_delivery_attempts_total', 'Webhook delivery attempts, by result (succeeded, failed, retrying)', ['status']);
  readonly directDeliveries = this.counter(
    'reflex_webhook_direct_deliveries_total',
    'First attempts the automations service made itself (way=direct) or handed to the queue, by reason (cooling, host_full, waited, stuck, busy, duplicate, stopping)',
    ['way'],
  );
  readonly deliveryLatency = this.histogram(
    'reflex_webhook_delivery_duration_seconds',
    'Time from sending a webhook to its answer (or error), by result',
    ['status'],
    [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
  );
  readonly flowRunJobs = this.counter('reflex_flow_run_jobs_total', 'Flow-run jobs handled by the workers of this process, by outcome', ['pool', 'outcome']);
  readonly flowRunDuration = this.histogram(
    'reflex_flow_run_duration_seconds',
    'Time a worker spent on a flow-run job, from pick-up to its end, by outcome',
    ['pool', 'outcome'],
    [0.01, 0.05, 0.1, 0.5, 1, 5, 10, 30, 60, 300, 900, 3600],
  );
  readonly workerSlots = this.gauge('reflex_worker_slots', 'Flow-run slots of the workers of this process (their concurrency), by pool', ['pool']);
  readonly workerSlotsInUse = this.gauge('reflex_worker_slots_in_use', 'Flow-run slots running a job now, by pool', ['pool']);

  // Read on scrape by the collectors the runtime registers (infra/metrics-collectors.ts).
  readonly consumerPending = this.gauge('reflex_jetstream_consumer_pending', 'Messages of the events stream not yet delivered to a durable consumer', ['consumer']);
  readonly consumerAckPending = this.gauge('reflex_jetstream_consumer_ack_pending', 'Messages delivered to a durable consumer and not yet acknowledged', ['consumer']);
  readonly consumerRedelivered = this.gauge('reflex_jetstream_consumer_redelivered', 'Messages of a durable consumer delivered more than once and still unacknowledged', ['consumer']);
  readonly queueJobs = this.gauge('reflex_queue_jobs', 'BullMQ jobs by queue and state (waiting, active, delayed, prioritized, failed, paused)', ['queue', 'state']);
  readonly deadLetters = this.gauge('reflex_dead_letters', 'Dead letters not replayed (GET /api/dead-letters)');
  readonly outboxBacklog = this.gauge('reflex_outbox_backlog', 'State-change events written to the outbox and not yet published');
  readonly flowRuns = this.gauge('reflex_flow_runs', 'Flow runs in the database, by state type', ['state']);
  readonly sourceUp = this.gauge('reflex_metrics_source_up', '1 when the last scrape read this source, 0 when it failed or timed out', ['source']);
  readonly collectSeconds = this.gauge('reflex_metrics_collect_seconds', 'How long the last scrape took to read this source', ['source']);

  constructor(private readonly collectTimeoutMs = 1000) {
    collectDefaultMetrics({ register: this.registry, prefix: 'reflex_' });
  }

  /** Registers a lazily read source; the gauges it fills are reset when it fails. */
  addCollector(source: string, collect: Collector, owns: Gauge[]): void {
    this.collectors.set(source, async () => {
      const started = performance.now();
      try {
        const apply = await withTimeout(collect(), this.collectTimeoutMs, source);
        apply();
        this.sourceUp.set({ source }, 1);
      } catch {
        for (const g of owns) g.reset();
        this.sourceUp.set({ source }, 0);
      } finally {
        this.collectSeconds.set({ source }, (performance.now() - started) / 1000);
      }
    });
  }

  /** The Prometheus text exposition, after reading every source (in parallel, each bounded). */
  async scrape(): Promise<string> {
    await Promise.all([...this.collectors.values()].map((c) => c()));
    return this.registry.metrics();
  }

  get contentType(): string {
    return this.registry.contentType;
  }

  private counter<L extends string>(name: string, help: string, labelNames: L[] = []): Counter<L> {
    return new Counter({ name, help, labelNames, registers: [this.registry] });
  }

  private gauge<L extends string>(name: string, help: string, labelNames: L[] = []): Gauge<L> {
    return new Gauge({ name, help, labelNames, registers: [this.registry] });
  }

  private histogram<L extends string>(name: string, help: string, labelNames: L[], buckets: number[]): Histogram<L> {
    return new Histogram({ name, help, labelNames, buckets, registers: [this.registry] });
  }
}

/** Rejects after `ms`; the late work is left to finish (its result ignored) — a scrape never waits on it. */
function withTimeout<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what}: no answer within ${ms} ms`)), ms);
    timer.unref();
  });
  p.catch(() => {});
  return Promise.race([p, timeout]).finally(() => clearTimeout(timer));
}
