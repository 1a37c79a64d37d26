import { hostname } from 'node:os';
import type { Config } from '../../core/config.ts';
import { ConfigError } from '../../core/errors.ts';
import { WorkPoolNameSchema } from '../../schemas/deployment.ts';

/** What one worker runs: a pool, a flows module, how many runs at once, how often it heartbeats. */
export interface WorkerOptions {
  pool: string;
  flowsModule: string;
  concurrency: number;
  heartbeatSeconds: number;
  /** A job whose deployment or pool is at its limit goes back to the queue for this long. */
  slotRetryMs: number;
  /** How the worker is named where workers are listed (the work-pool status). */
  hostname: string;
}

export function workerOptions(config: Config, overrides: Partial<WorkerOptions> = {}): WorkerOptions {
  const options: WorkerOptions = {
    pool: 'default',
    flowsModule: config.flowsModule,
    concurrency: config.workerConcurrency,
    heartbeatSeconds: config.workerHeartbeatSeconds,
    slotRetryMs: 1000,
    // A container's HOSTNAME is its pod or container name, which is what an operator looks for.
    hostname: process.env.HOSTNAME || hostname(),
    ...overrides,
  };
  const pool = WorkPoolNameSchema.safeParse(options.pool);
  if (!pool.success) throw new ConfigError(`invalid work pool name "${options.pool}": ${pool.error.issues[0]?.message}`);
  if (!Number.isInteger(options.concurrency) || options.concurrency < 1) throw new ConfigError(`worker concurrency must be a positive integer, got ${options.concurrency}`);
  return options;
}
