import { z } from 'zod';
import { ConfigError } from './errors.ts';

/** A namespace is used verbatim as a NATS subject token, a JetStream name prefix and a Postgres schema. */
export const NamespaceSchema = z
  .string()
  .regex(/^[a-z][a-z0-9_]{0,39}$/, 'must start with a lowercase letter and hold only a-z, 0-9 and _ (at most 40)');

const bool = z
  .enum(['true', 'false', '1', '0', 'yes', 'no'])
  .transform((v) => v === 'true' || v === '1' || v === 'yes');

/**
 * Every setting Reflex reads from the environment, with its local default.
 * docs/configuration.md documents each one; keep the two in step.
 */
export const EnvSchema = z.object({
  REFLEX_NAMESPACE: NamespaceSchema.default('reflex'),
  REFLEX_NATS_URL: z.string().default('nats://127.0.0.1:4222'),
  REFLEX_REDIS_URL: z.string().url().default('redis://127.0.0.1:6379'),
  REFLEX_DATABASE_URL: z.string().url().default('postgres://postgres@127.0.0.1:5432/reflex'),
  REFLEX_HOST: z.string().default('127.0.0.1'),
  REFLEX_PORT: z.coerce.number().int().min(0).max(65535).default(4200),
  REFLEX_API_KEY: z.string().min(1).optional(),
  REFLEX_PUBLIC_URL: z.string().url().optional(),
  REFLEX_API_URL: z.string().url().optional(),
  REFLEX_LOG_LEVEL: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
  REFLEX_MAX_PAYLOAD_BYTES: z.coerce.number().int().positive().default(256 * 1024),
  REFLEX_MAX_BODY_BYTES: z.coerce.number().int().positive().default(16 * 1024 * 1024),
  REFLEX_EVENT_RETENTION_DAYS: z.coerce.number().positive().default(7),
  REFLEX_CONNECT_TIMEOUT_MS: z.coerce.number().int().positive().default(3000),
  REFLEX_AUTOMATIONS_DIR: z.string().default('automations'),
  REFLEX_ACTION_CONCURRENCY: z.coerce.number().int().positive().default(100),
  REFLEX_FLOWS: z.string().default('flows/index.ts'),
  REFLEX_WORKER_CONCURRENCY: z.coerce.number().int().positive().default(10),
  REFLEX_WORKER_HEARTBEAT_SECONDS: z.coerce.number().positive().default(5),
  REFLEX_WEBHOOK_ALLOW_HOSTS: z.string().default(''),
  REFLEX_WEBHOOK_HOST_CONCURRENCY: z.coerce.number().int().positive().default(10),
  REFLEX_WEBHOOK_WORKER_CONCURRENCY: z.coerce.number().int().positive().default(100),
  REFLEX_PRETTY_LOGS: bool.optional(),
  REFLEX_LATE_AFTER_SECONDS: z.coerce.number().min(0).default(15),
  REFLEX_SCHEDULER_LOOP_SECONDS: z.coerce.number().positive().default(5),
  REFLEX_SCHEDULE_MAX_RUNS: z.coerce.number().int().positive().default(10),
  REFLEX_SCHEDULE_HORIZON_SECONDS: z.coerce.number().positive().default(3600),
});

export type Env = z.infer<typeof EnvSchema>;

export interface Config {
  namespace: string;
  natsUrl: string;
  redisUrl: string;
  databaseUrl: string;
  host: string;
  port: number;
  apiKey: string | undefined;
  /** The URL users reach the API at; printed at start and used for incoming webhook URLs. */
  publicUrl: string;
  /** Where CLI commands that talk HTTP (`reflex events tail|emit`) reach the API. */
  apiUrl: string;
  logLevel: Env['REFLEX_LOG_LEVEL'];
  maxPayloadBytes: number;
  maxBodyBytes: number;
  eventRetentionDays: number;
  connectTimeoutMs: number;
  automationsDir: string;
  /** Automation actions executed at once per automations service process. */
  actionConcurrency: number;
  flowsModule: string;
  workerConcurrency: number;
  /** Running flow runs refresh a heartbeat this often; one silent for 3 intervals is marked CRASHED. */
  workerHeartbeatSeconds: number;
  webhookAllowHosts: string[];
  webhookHostConcurrency: number;
  webhookWorkerConcurrency: number;
  prettyLogs: boolean;
  /** A SCHEDULED run not started this long after its time is marked Late. */
  lateAfterSeconds: number;
  /** How often the scheduler creates upcoming runs and marks Late ones. */
  schedulerLoopSeconds: number;
  /** The scheduler creates at most this many upcoming runs per schedule... */
  scheduleMaxRuns: number;
  /** ...and only those starting within this many seconds. */
  scheduleHorizonSeconds: number;
}

/** Parses the environment once; a bad value stops start-up with the variable's name and the reason. */
export function loadConfig(env: NodeJS.ProcessEnv = process.env, overrides: Partial<Config> = {}): Config {
  const parsed = EnvSchema.safeParse(env);
  if (!parsed.success) {
    const lines = parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`);
    throw new ConfigError(`invalid environment: ${lines.join('; ')}`);
  }
  const e = parsed.data;
  const base: Config = {
    namespace: e.REFLEX_NAMESPACE,
    natsUrl: e.REFLEX_NATS_URL,
    redisUrl: e.REFLEX_REDIS_URL,
    databaseUrl: e.REFLEX_DATABASE_URL,
    host: e.REFLEX_HOST,
    port: e.REFLEX_PORT,
    apiKey: e.REFLEX_API_KEY,
    publicUrl: e.REFLEX_PUBLIC_URL ?? `http://${e.REFLEX_HOST}:${e.REFLEX_PORT}`,
    apiUrl: (e.REFLEX_API_URL ?? e.REFLEX_PUBLIC_URL ?? `http://${e.REFLEX_HOST === '0.0.0.0' ? '127.0.0.1' : e.REFLEX_HOST}:${e.REFLEX_PORT}`).replace(/\/+$/, ''),
    logLevel: e.REFLEX_LOG_LEVEL,
    maxPayloadBytes: e.REFLEX_MAX_PAYLOAD_BYTES,
    maxBodyBytes: e.REFLEX_MAX_BODY_BYTES,
    eventRetentionDays: e.REFLEX_EVENT_RETENTION_DAYS,
    connectTimeoutMs: e.REFLEX_CONNECT_TIMEOUT_MS,
    automationsDir: e.REFLEX_AUTOMATIONS_DIR,
    actionConcurrency: e.REFLEX_ACTION_CONCURRENCY,
    flowsModule: e.REFLEX_FLOWS,
    workerConcurrency: e.REFLEX_WORKER_CONCURRENCY,
    workerHeartbeatSeconds: e.REFLEX_WORKER_HEARTBEAT_SECONDS,
    webhookAllowHosts: e.REFLEX_WEBHOOK_ALLOW_HOSTS.split(',').map((h) => h.trim()).filter(Boolean),
    webhookHostConcurrency: e.REFLEX_WEBHOOK_HOST_CONCURRENCY,
    webhookWorkerConcurrency: e.REFLEX_WEBHOOK_WORKER_CONCURRENCY,
    prettyLogs: e.REFLEX_PRETTY_LOGS ?? Boolean(process.stdout.isTTY),
    lateAfterSeconds: e.REFLEX_LATE_AFTER_SECONDS,
    schedulerLoopSeconds: e.REFLEX_SCHEDULER_LOOP_SECONDS,
    scheduleMaxRuns: e.REFLEX_SCHEDULE_MAX_RUNS,
    scheduleHorizonSeconds: e.REFLEX_SCHEDULE_HORIZON_SECONDS,
  };
  const merged = { ...base, ...overrides };
  const ns = NamespaceSchema.safeParse(merged.namespace);
  if (!ns.success) throw new ConfigError(`invalid namespace "${merged.namespace}": ${ns.error.issues[0]?.message}`);
  return merged;
}
