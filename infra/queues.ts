import { Queue, Worker, type Job, type JobsOptions, type Processor, type WorkerOptions } from 'bullmq';
import type { Redis } from 'ioredis';
import type { z } from 'zod';
import { ValidationError } from '../core/errors.ts';
import type { JobKind } from '../core/jobs.ts';
import type { Names } from '../core/names.ts';
import { currentTraceparent, inSpan, SpanKind, tracingEnabled } from './tracing.ts';

/**
 * BullMQ lock timings of every worker of the engine (webhook deliveries, automation actions, flow runs).
 *
 * A job whose worker died stays active until its lock expires and a stalled-job check has seen it twice
 * (one check marks the active jobs, a later one moves those whose lock is gone back to the queue); each
 * check is skipped while another worker's last check is younger than the interval. With BullMQ's defaults
 * (30 s lock, 30 s interval) that took up to ~67 s after a webhook service was killed. With these, a dead
 * worker's jobs are back in the queue within lockDuration + stalledInterval (8 s) once any worker of the
 * queue runs, the restarted one included.
 *
 * A live worker renews its locks every lockDuration / 2 from a timer, however long the job runs, so only
 * an event loop blocked for longer than the lock makes a live job look stalled; it then runs again,
 * which every job of the engine tolerates (deterministic ids, state checked in PostgreSQL).
 */
export const WORKER_LOCKS = { lockDuration: 6_000, stalledInterval: 2_000 } as const satisfies Pick<WorkerOptions, 'lockDuration' | 'stalledInterval'>;

/**
 * The one factory of BullMQ queues and workers: every queue on one Redis connection of the factory's
 * (a Queue does not own a connection it is given), every worker on a blocking connection of its own, all
 * under the namespace's prefix. Jobs go in only through `add`, which validates them against the
 * catalogue (core/jobs.ts): a job is validated once, where it enters.
 */
export class Queues {
  private readonly queues = new Map<string, Queue<unknown, unknown, string>>();
  private readonly workers = new Set<Worker>();

  constructor(
    private readonly names: Names,
    private readonly connection: (name: string) => Redis,
  ) {}

  /**
   * The queues' connection, not the process's shared one: BullMQ defines its 52 Lua scripts on the
   * connection a Queue is given, and ioredis copies every script defined on a connection onto each
   * pipeline and MULTI made on it (`Pipeline`'s constructor), which made each of the engine's own
   * pipelines (automation state commits, run heartbeats) cost 28 µs and 14 KB instead of 2 µs
   * (docs/performance.md, round 9). Made with the first queue.
   */
  private producer: Redis | undefined;

  /** The queue of a kind (created once per process). */
  queue<S extends z.ZodType, A extends unknown[]>(kind: JobKind<S, A>, ...args: A): Queue<unknown, unknown, string> {
    return this.byName(kind.queue(this.names, ...args));
  }

  /** The queue of a name (created once per process), for reads such as job counts: jobs go in only through `add`. */
  byName(name: string): Queue<unknown, unknown, string> {
    let q = this.queues.get(name);
    if (!q) {
      q = new Queue<unknown, unknown, string>(name, { connection: (this.producer ??= this.connection('queues')), prefix: this.names.bullPrefix });
      this.queues.set(name, q);
    }
    return q;
  }

  /** Validates and adds one job; answers its id. Throws a ValidationError naming the fields that break the contract. */
  async add<S extends z.ZodType, A extends unknown[]>(kind: JobKind<S, A>, input: z.input<S>, args: A, extra?: Partial<JobsOptions>): Promise<string> {
    if (tracingEnabled() && currentTraceparent()) {
      // Inside a traced path: the job is a span of its own, and carries it (`traceparent`) to its worker.
      const queue = kind.queue(this.names, ...args);
      return inSpan(`reflex.job.enqueue ${queue}`, { kind: SpanKind.PRODUCER, attributes: { 'messaging.system': 'bullmq', 'messaging.destination.name': queue } }, () =>
        this.addNow(kind, { ...(input as object), traceparent: currentTraceparent() } as z.input<S>, args, extra),
      );
    }
    return this.addNow(kind, input, args, extra);
  }

  private async addNow<S extends z.ZodType, A extends unknown[]>(kind: JobKind<S, A>, input: z.input<S>, args: A, extra?: Partial<JobsOptions>): Promise<string> {
    const data = parse(kind, input);
    const options = kind.options(data, extra);
    await this.queue(kind, ...args).add(kind.name(data), data, options);
    return options.jobId as string;
  }

  /**
   * Validates and adds many jobs to one queue in one round trip; answers their ids, in order. `extras[i]`
   * adds to the options of `inputs[i]` (a delay, a priority), as `extra` does for `add`.
   */
  async addBulk<S extends z.ZodType, A extends unknown[]>(kind: JobKind<S, A>, inputs: z.input<S>[], args: A, extras?: ReadonlyArray<Partial<JobsOptions> | undefined>): Promise<string[]> {
    if (inputs.length === 0) return [];
    const jobs = inputs.map((input, i) => {
      const data = parse(kind, input);
      return { name: kind.name(data), data, opts: kind.options(data, extras?.[i]) };
    });
    const queue = this.queue(kind, ...args);
    // One job is one script call: BullMQ's addBulk wraps even one job in a MULTI, which costs as much as
    // the add itself on a connection with BullMQ's scripts (see `producer`), and a batch of one is what
    // the batchers hand over at low rates.
    if (jobs.length === 1) await queue.add(jobs[0].name, jobs[0].data, jobs[0].opts);
    else await queue.addBulk(jobs);
    return jobs.map((j) => j.opts.jobId as string);
  }

  /**
   * A worker on the kind's queue, on a connection of its own, with WORKER_LOCKS unless told otherwise.
   *
   * `autoPipelining`: the commands the worker issues in one event-loop turn (the moveToFinished of every
   * job a batched write released together) go to Redis as one pipeline, one socket write and one read
   * instead of one each; with dozens of jobs finishing together, those writes were ~9 % of the webhook
   * service's CPU (docs/performance.md). Only the worker's command connection: the blocking connection
   * BullMQ duplicates from it in the constructor keeps one command at a time.
   */
  worker<S extends z.ZodType, A extends unknown[], R>(
    kind: JobKind<S, A>,
    args: A,
    processor: (job: Job<z.output<S>>, token?: string) => Promise<R>,
    options: Omit<WorkerOptions, 'connection' | 'prefix'> & { connectionName: string; autoPipelining?: boolean },
  ): Worker<z.output<S>, R> {
    const { connectionName, autoPipelining, ...rest } = options;
    const connection = this.connection(connectionName);
    const w = new Worker<z.output<S>, R>(kind.queue(this.names, ...args), processor as Processor<z.output<S>, R>, {
      ...WORKER_LOCKS,
      ...rest,
      connection,
      prefix: this.names.bullPrefix,
    });
    // Set after the constructor made the blocking duplicate; ioredis reads the option on every command.
    if (autoPipelining) connection.options.enableAutoPipelining = true;
    this.workers.add(w);
    void w.waitUntilReady().catch(() => {});
    return w;
  }

  /**
   * Closes every queue this factory made (workers are closed by their services, which drain them first).
   *
   * Hazard (BullMQ 5): closing a Queue or Worker whose connection is still starting (a worker's own
   * connection still connecting, a queue's INFO check in flight) removes every listener of its
   * RedisConnection; when the runtime then closes the Redis client under it, that start fails and is
   * emitted as 'error' with no listener, which kills the process: the "Connection is closed." stack after
   * a failed start. So each gets one listener back for that late, meaningless error.
   */
  async close(): Promise<void> {
    const all = [...this.queues.values()];
    this.queues.clear();
    await Promise.allSettled(all.map((q) => q.close()));
    for (const owner of [...all, ...this.workers]) {
      const held = owner as unknown as Record<'connection' | 'blockingConnection', { on(event: 'error', fn: () => void): void } | undefined>;
      held.connection?.on('error', () => {});
      held.blockingConnection?.on('error', () => {});
    }
  }
}

function parse<S extends z.ZodType, A extends unknown[]>(kind: JobKind<S, A>, input: z.input<S>): z.output<S> {
  const parsed = kind.schema.safeParse(input);
  if (!parsed.success) throw ValidationError.fromIssues(kind.label, parsed.error.issues);
  return parsed.data;
}
