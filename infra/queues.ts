import { Queue, Worker, type Job, type JobsOptions, type Processor, type WorkerOptions } from 'bullmq';
import type { Redis } from 'ioredis';
import type { z } from 'zod';
import { ValidationError } from '../core/errors.ts';
import type { JobKind } from '../core/jobs.ts';
import type { Names } from '../core/names.ts';

/**
 * The one factory of BullMQ queues and workers: every queue on the process's shared Redis connection
 * (a Queue does not own a connection it is given), every worker on a blocking connection of its own, all
 * under the namespace's prefix. Jobs go in only through `add`, which validates them against the
 * catalogue (core/jobs.ts): a job is validated once, where it enters.
 */
export class Queues {
  private readonly queues = new Map<string, Queue<unknown, unknown, string>>();
  private readonly workers = new Set<Worker>();

  constructor(
    private readonly redis: Redis,
    private readonly names: Names,
    private readonly connection: (name: string) => Redis,
  ) {}

  /** The queue of a kind (created once per process). */
  queue<S extends z.ZodType, A extends unknown[]>(kind: JobKind<S, A>, ...args: A): Queue<unknown, unknown, string> {
    const name = kind.queue(this.names, ...args);
    let q = this.queues.get(name);
    if (!q) {
      q = new Queue<unknown, unknown, string>(name, { connection: this.redis, prefix: this.names.bullPrefix });
      this.queues.set(name, q);
    }
    return q;
  }

  /** Validates and adds one job; answers its id. Throws a ValidationError naming the fields that break the contract. */
  async add<S extends z.ZodType, A extends unknown[]>(kind: JobKind<S, A>, input: z.input<S>, args: A, extra?: Partial<JobsOptions>): Promise<string> {
    const data = parse(kind, input);
    const options = kind.options(data, extra);
    await this.queue(kind, ...args).add(kind.name(data), data, options);
    return options.jobId as string;
  }

  /** Validates and adds many jobs to one queue in one round trip. */
  async addBulk<S extends z.ZodType, A extends unknown[]>(kind: JobKind<S, A>, inputs: z.input<S>[], args: A): Promise<void> {
    if (inputs.length === 0) return;
    const jobs = inputs.map((input) => {
      const data = parse(kind, input);
      return { name: kind.name(data), data, opts: kind.options(data) };
    });
    await this.queue(kind, ...args).addBulk(jobs);
  }

  /** A worker on the kind's queue, on a connection of its own; closed with `close()`. */
  worker<S extends z.ZodType, A extends unknown[], R>(
    kind: JobKind<S, A>,
    args: A,
    processor: (job: Job<z.output<S>>, token?: string) => Promise<R>,
    options: Omit<WorkerOptions, 'connection' | 'prefix'> & { connectionName: string },
  ): Worker<z.output<S>, R> {
    const { connectionName, ...rest } = options;
    const w = new Worker<z.output<S>, R>(kind.queue(this.names, ...args), processor as Processor<z.output<S>, R>, {
      ...rest,
      connection: this.connection(connectionName),
      prefix: this.names.bullPrefix,
    });
    this.workers.add(w);
    void w.waitUntilReady().catch(() => {});
    return w;
  }

  /** Closes every queue this factory made (workers are closed by their services, which drain them first). */
  async close(): Promise<void> {
    const all = [...this.queues.values()];
    this.queues.clear();
    await Promise.allSettled(all.map((q) => q.close()));
  }
}

function parse<S extends z.ZodType, A extends unknown[]>(kind: JobKind<S, A>, input: z.input<S>): z.output<S> {
  const parsed = kind.schema.safeParse(input);
  if (!parsed.success) throw ValidationError.fromIssues(kind.label, parsed.error.issues);
  return parsed.data;
}
