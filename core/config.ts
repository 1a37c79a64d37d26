import { z } from 'zod';
import { apiEndpointUrl } from './api-endpoint.ts';
import { ConfigError, describeIssues, toFieldIssues } from './errors.ts';

/** A namespace is used verbatim as a NATS subject token, a JetStream name prefix and a Postgres schema. */
export const NamespaceSchema = z
  .string()
  .regex(/^[a-z][a-z0-9_]{0,39}$/, 'must start with a lowercase letter and hold only a-z, 0-9 and _ (at most 40)');

const bool = z.enum(['true', 'false', '1', '0', 'yes', 'no']).transform((v) => v === 'true' || v === '1' || v === 'yes');
const list = z.string().transform((v) => v.split(',').map((h) => h.trim()).filter(Boolean));
const int = () => z.coerce.number().int();
const positive = () => z.coerce.number().positive();
/** A secrets key: 32 random bytes, base64 (`openssl rand -base64 32`). */
const secretsKey = z
  .string()
  .trim()
  .refine((v) => /^[A-Za-z0-9+/]+={0,2}$/.test(v) && Buffer.from(v, 'base64').length === 32, 'must be 32 bytes in base64 (openssl rand -base64 32)');

/**
 * Every setting Reflex reads from the environment, declared once: the variable, its schema and local
 * default, and the Config field it fills. docs/configuration.md documents each one under a heading of
 * its name (a test checks the two against each other).
 */
export const SETTINGS = {
  namespace: { env: 'REFLEX_NAMESPACE', schema: NamespaceSchema.default('reflex') },
  natsUrl: { env: 'REFLEX_NATS_URL', schema: z.string().default('nats://127.0.0.1:4222') },
  redisUrl: { env: 'REFLEX_REDIS_URL', schema: z.string().url().default('redis://127.0.0.1:6379') },
  databaseUrl: { env: 'REFLEX_DATABASE_URL', schema: z.string().url().default('postgres://postgres@127.0.0.1:5432/reflex') },
  connectTimeoutMs: { env: 'REFLEX_CONNECT_TIMEOUT_MS', schema: int().positive().default(3000) },
  host: { env: 'REFLEX_HOST', schema: z.string().default('127.0.0.1') },
  port: { env: 'REFLEX_PORT', schema: int().min(0).max(65535).default(4200) },
  apiKey: { env: 'REFLEX_API_KEY', schema: z.string().min(1).optional() },
  /** The URL users reach the API at; printed at start and used for incoming webhook URLs (default from host and port). */
  publicUrl: { env: 'REFLEX_PUBLIC_URL', schema: z.string().url().optional() },
  /** Where CLI commands that talk HTTP reach the API (default: the public URL). */
  apiUrl: { env: 'REFLEX_API_URL', schema: z.string().url().optional() },
  maxBodyBytes: { env: 'REFLEX_MAX_BODY_BYTES', schema: int().positive().default(16 * 1024 * 1024) },
  /** Longest a client may take to send a whole request (headers within the first third, at most 10 s). */
  requestTimeoutMs: { env: 'REFLEX_REQUEST_TIMEOUT_MS', schema: int().min(100).default(30_000) },
  maxPayloadBytes: { env: 'REFLEX_MAX_PAYLOAD_BYTES', schema: int().positive().default(256 * 1024) },
  eventRetentionDays: { env: 'REFLEX_EVENT_RETENTION_DAYS', schema: positive().default(7) },
  logLevel: { env: 'REFLEX_LOG_LEVEL', schema: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info') },
  /** Readable log lines instead of JSON (default: when stdout is a terminal). */
  prettyLogs: { env: 'REFLEX_PRETTY_LOGS', schema: bool.optional() },
  automationsDir: { env: 'REFLEX_AUTOMATIONS_DIR', schema: z.string().default('automations') },
  /** Automation actions executed at once per automations service process. */
  actionConcurrency: { env: 'REFLEX_ACTION_CONCURRENCY', schema: int().positive().default(100) },
  flowsModule: { env: 'REFLEX_FLOWS', schema: z.string().default('flows/index.ts') },
  workerConcurrency: { env: 'REFLEX_WORKER_CONCURRENCY', schema: int().positive().default(10) },
  /** Running flow runs refresh a heartbeat this often; one silent for 3 intervals is marked CRASHED. */
  workerHeartbeatSeconds: { env: 'REFLEX_WORKER_HEARTBEAT_SECONDS', schema: positive().default(5) },
  webhookAllowHosts: { env: 'REFLEX_WEBHOOK_ALLOW_HOSTS', schema: list.default([]) },
  webhookHostConcurrency: { env: 'REFLEX_WEBHOOK_HOST_CONCURRENCY', schema: int().positive().default(64) },
  webhookWorkerConcurrency: { env: 'REFLEX_WEBHOOK_WORKER_CONCURRENCY', schema: int().positive().default(100) },
  /** The automations service makes a delivery's first attempt itself when its host is healthy (no queue hop). */
  webhookDirect: { env: 'REFLEX_WEBHOOK_DIRECT', schema: bool.default(true) },
  /** A SCHEDULED run not started this long after its time is marked Late. */
  lateAfterSeconds: { env: 'REFLEX_LATE_AFTER_SECONDS', schema: z.coerce.number().min(0).default(15) },
  /** How often the scheduler creates upcoming runs and marks Late ones. */
  schedulerLoopSeconds: { env: 'REFLEX_SCHEDULER_LOOP_SECONDS', schema: positive().default(5) },
  /** The scheduler creates at most this many upcoming runs per schedule... */
  scheduleMaxRuns: { env: 'REFLEX_SCHEDULE_MAX_RUNS', schema: int().positive().default(10) },
  /** ...and only those starting within this many seconds. */
  scheduleHorizonSeconds: { env: 'REFLEX_SCHEDULE_HORIZON_SECONDS', schema: positive().default(3600) },
  /** Whether the API serves the dashboard at `/` (built on start when missing or stale). */
  dashboard: { env: 'REFLEX_DASHBOARD', schema: bool.default(true) },
  // Flow control (debounce, throttle, rate limit, batch on automations).
  /** Largest batch (`batch.max_size`) or debounce window (`debounce.max_events`) an automation may declare. */
  flowControlMaxBatch: { env: 'REFLEX_FLOW_CONTROL_MAX_BATCH', schema: int().min(1).max(10_000).default(1000) },
  // Metrics (issue 14).
  /** Where a process without the API serves GET /metrics (0: nowhere); the API serves it on its own port. */
  metricsPort: { env: 'REFLEX_METRICS_PORT', schema: int().min(0).max(65535).default(9464) },
  /** Longest a scrape waits for each dependency it reads gauges from (consumer lag, queue depths, backlogs). */
  metricsTimeoutMs: { env: 'REFLEX_METRICS_TIMEOUT_MS', schema: int().positive().default(1000) },
  // Local dependency servers for development (issue 14; infra/local-servers.ts reads the same variables).
  /** `production` never starts local dependency servers (nor does anything else development-only). */
  env: { env: 'REFLEX_ENV', schema: z.enum(['development', 'production', 'test']).default('development') },
  /** Whether `reflex start` and `npm test` may start a local NATS, Redis or PostgreSQL where a default URL does not answer. */
  localServers: { env: 'REFLEX_LOCAL_SERVERS', schema: bool.default(true) },
  /** Where those local servers keep their data. */
  localDir: { env: 'REFLEX_LOCAL_DIR', schema: z.string().min(1).default('.reflex') },
  // Operating Reflex (issue 14): logs for people and machines.
  /** `pretty` (readable lines) or `json`; wins over REFLEX_PRETTY_LOGS; default: pretty on a terminal. */
  logFormat: { env: 'REFLEX_LOG_FORMAT', schema: z.enum(['pretty', 'json']).optional() },
  // Performance end to end (issue 12).
  /** `reflex start` of every service: `multi` (a supervised child process per service group) or `single` (one process). */
  processes: { env: 'REFLEX_PROCESSES', schema: z.enum(['multi', 'single', '1']).default('multi').transform((v) => (v === '1' ? 'single' : v)) },
  /** Ingest answers 503 with Retry-After while the automations or recorder consumer has more than this many events pending (0: never). */
  ingestMaxLag: { env: 'REFLEX_INGEST_MAX_LAG', schema: int().min(0).default(10_000) },
  // ---- run control (issue 15): deployment SLAs ----
  /** How often the scheduler evaluates deployment SLAs (0 turns the evaluation off). */
  slaLoopSeconds: { env: 'REFLEX_SLA_LOOP_SECONDS', schema: z.coerce.number().min(0).default(5) },
  /** How often the automations service evaluates metric triggers (0 turns them off). */
  metricLoopSeconds: { env: 'REFLEX_METRIC_LOOP_SECONDS', schema: z.coerce.number().min(0).default(5) },
  // Secrets and variables (issue 13).
  /** The key secrets are encrypted with (AES-256-GCM): 32 bytes in base64. Without it, storing a secret is refused. */
  secretsKey: { env: 'REFLEX_SECRETS_KEY', schema: secretsKey.optional() },
  /** Keys secrets were encrypted with before a rotation (comma-separated, base64); read, never written with. */
  secretsPreviousKeys: { env: 'REFLEX_SECRETS_PREVIOUS_KEYS', schema: list.pipe(z.array(secretsKey)).default([]) },
  /** How long automation templates reuse a variable's value before reading it again. */
  variablesCacheSeconds: { env: 'REFLEX_VARIABLES_CACHE_SECONDS', schema: z.coerce.number().min(0).default(5) },
} as const satisfies Record<string, { env: `REFLEX_${string}`; schema: z.ZodType }>;

type Settings = typeof SETTINGS;

/** The settings as parsed, with the derived ones resolved (no setting is left undefined that has a default). */
export type Config = { -readonly [K in keyof Settings]: z.output<Settings[K]['schema']> } & {
  publicUrl: string;
  apiUrl: string;
  prettyLogs: boolean;
};

/** Every environment variable Reflex reads. */
export const SETTING_NAMES: readonly string[] = Object.values(SETTINGS).map((s) => s.env);

/** Parses the environment once; a bad value stops start-up with the variable's name and the reason. */
export function loadConfig(env: NodeJS.ProcessEnv = process.env, overrides: Partial<Config> = {}): Config {
  const shape = Object.fromEntries(Object.values(SETTINGS).map((s) => [s.env, s.schema])) as Record<string, z.ZodType>;
  const parsed = z.object(shape).safeParse(env);
  if (!parsed.success) throw new ConfigError(`invalid environment: ${describeIssues(toFieldIssues(parsed.error.issues))}`);
  const values = parsed.data as Record<string, unknown>;
  const raw = Object.fromEntries(Object.entries(SETTINGS).map(([key, s]) => [key, values[s.env]])) as { [K in keyof Settings]: z.output<Settings[K]['schema']> };
  const base: Config = {
    ...raw,
    publicUrl: raw.publicUrl ?? `http://${raw.host}:${raw.port}`,
    apiUrl: apiEndpointUrl(raw),
    prettyLogs: raw.logFormat ? raw.logFormat === 'pretty' : (raw.prettyLogs ?? Boolean(process.stdout.isTTY)),
  };
  const merged = { ...base, ...overrides };
  const ns = NamespaceSchema.safeParse(merged.namespace);
  if (!ns.success) throw new ConfigError(`invalid namespace "${merged.namespace}": ${ns.error.issues[0]?.message}`);
  return merged;
}
