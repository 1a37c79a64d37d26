import type { Redis } from 'ioredis';
import { loadConfig, type Config } from '../core/config.ts';
import { createLogger, type Logger as ProcessLogger } from '../core/log.ts';
import type { Names } from '../core/names.ts';
import type { EventBus } from '../infra/bus.ts';
import { openRuntime, type Runtime } from '../infra/runtime.ts';
import { createRuns, Heartbeats, type Cancellation, type CreateTaskRunInput, type Orchestration, type Runs } from '../modules/runs/index.ts';
import { createRunLogBase, type Logger } from './logger.ts';
import { Artifacts } from '../modules/artifacts/index.ts';
import { resumedSuspensionSql, Waits } from '../modules/waits/index.ts';
import { getFlowRunDetail } from '../modules/runs/index.ts';
import { isStoredInFull } from './results.ts';
import type { Pool } from '../infra/db.ts';
import { whileUnavailable } from '../infra/pg-errors.ts';
import { KeyRing, Secrets } from '../modules/secrets/index.ts';
import { scrubRevealed } from './revealed.ts';
import type { StateInput } from '../schemas/flow-run.ts';

/**
 * How flow code reaches the engine. A worker binds its process's runs module (`bindEngine`); a script
 * connects lazily from the REFLEX_* environment on its first flow call, and closes again when no run is
 * active, so a script exits on its own. When the engine is unreachable (or its database was never set up
 * by `reflex start`) the flow still runs, warned once as "not recorded".
 */
export interface EngineClient {
  readonly bus: EventBus;
  readonly redis: Redis;
  readonly names: Names;
  readonly maxPayloadBytes: number;
  readonly store: Orchestration;
  readonly heartbeats: Heartbeats;
  readonly cancellation: Cancellation;
  /** Base of every run logger: stdout echo plus batched storage through the store. */
  readonly log: Logger;
  /** The process's own log (problems of the SDK itself, not of a run). */
  readonly processLog: ProcessLogger;
  createTaskRun(id: string, input: CreateTaskRunInput): Promise<unknown>;
  /** Artifacts of runs (flow authors, issue 13). */
  readonly artifacts: Artifacts;
  /** What paused, suspended and event-waiting runs wait for (flow authors, issue 13). */
  readonly waits: Waits;
  /** The recorded results of a run's COMPLETED task runs by dynamic key (a resumed suspended run replays them). */
  completedTaskResults(flowRunId: string): Promise<Map<string, unknown>>;
  /** Marks a run as active on this client; the returned function ends it (a script's client closes when none is active). */
  hold(): () => void;
  // Secrets and variables (issue 13).
  readonly pg: Pool;
  readonly secrets: Secrets;
}

/** What a process binds the SDK to: its bus, its runs module, and the settings runs need. */
export interface EngineBinding {
  bus: EventBus;
  redis: Redis;
  names: Names;
  log: ProcessLogger;
  runs: Runs;
  config: Pick<Config, 'logLevel' | 'workerHeartbeatSeconds' | 'maxPayloadBytes' | 'secretsKey' | 'secretsPreviousKeys'>;
  artifacts: Artifacts;
  // Secrets and variables (issue 13).
  pg: Pool;
}

interface SdkGlobal {
  bound: EngineClient | undefined;
  lazy: Promise<EngineClient | null> | undefined;
  warned: boolean;
  fallbackLog: Logger | undefined;
}

// On globalThis so a flows module that resolved its own copy of the SDK (a linked install) shares the worker's client.
const KEY = Symbol.for('reflex.sdk.state');
const g = globalThis as typeof globalThis & { [KEY]?: SdkGlobal };
const state: SdkGlobal = (g[KEY] ??= { bound: undefined, lazy: undefined, warned: false, fallbackLog: undefined });

/** How long a run's state changes are held while PostgreSQL is down before the run gives up on them. */
const DATABASE_PATIENCE_MS = 10 * 60 * 1000;

function makeClient(b: EngineBinding, onIdle?: () => void): EngineClient {
  const store = maskingRevealed(b.runs.store.patient(DATABASE_PATIENCE_MS));
  const heartbeats = new Heartbeats(b.redis, b.names, b.config.workerHeartbeatSeconds);
  // Run logs are stored from info up whatever the process log level; the process level only decides the stdout echo.
  const level = b.config.logLevel === 'debug' || b.config.logLevel === 'trace' ? b.config.logLevel : 'info';
  const log = createRunLogBase({ level, echoLevel: b.config.logLevel, store: (lines) => store.appendLogs(lines), scrub: scrubRevealed });
  let active = 0;
  const waits = new Waits(b.pg);
  return {
    bus: b.bus,
    redis: b.redis,
    names: b.names,
    maxPayloadBytes: b.config.maxPayloadBytes,
    store,
    heartbeats,
    cancellation: b.runs.cancellation,
    log,
    processLog: b.log,
    // The SDK chooses the id so the task body has it at once; the write is batched and not awaited here.
    createTaskRun: (id, input) => store.createTaskRun({ ...input, id }),
    artifacts: b.artifacts,
    waits,
    // Read at an attempt's start, between two held writes: retried like them while PostgreSQL restarts.
    async completedTaskResults(flowRunId) {
      const detail = await whileUnavailable(() => getFlowRunDetail(b.pg, flowRunId), DATABASE_PATIENCE_MS);
      const out = new Map<string, unknown>();
      for (const t of detail?.task_runs ?? []) if (t.state.type === 'COMPLETED' && isStoredInFull(t.result)) out.set(t.dynamic_key, t.result);
      return out;
    },
    hold() {
      active += 1;
      let done = false;
      return () => {
        if (done) return;
        done = true;
        active -= 1;
        // setImmediate: `await a(); await b();` calls b before this runs, so sequential calls share one connection.
        if (active === 0 && onIdle) setImmediate(() => active === 0 && onIdle());
      };
    },
    pg: b.pg,
    secrets: new Secrets(b.pg, new KeyRing(b.config.secretsKey, b.config.secretsPreviousKeys)),
  };
}

/** Makes flows called in this process record through the binding (the worker does this on start). */
export function bindEngine(binding: EngineBinding): EngineClient {
  const client = makeClient(binding);
  state.bound = client;
  return client;
}

export function unbindEngine(client: EngineClient): void {
  client.heartbeats.close();
  if (state.bound === client) state.bound = undefined;
}

/** The client for a new top-level run: the bound one, else a lazily opened one, else null (not recorded). */
export async function resolveClient(): Promise<EngineClient | null> {
  if (state.bound) return state.bound;
  state.lazy ??= connectFromEnv();
  return state.lazy;
}

async function connectFromEnv(): Promise<EngineClient | null> {
  let rt: Runtime;
  try {
    const config = loadConfig();
    // A script records into an engine's namespace; it never creates or migrates one.
    rt = await openRuntime(config, createLogger({ level: 'warn' }), { prepare: false });
  } catch (err) {
    warnNotRecorded(err);
    return null;
  }
  const ready = await rt.pg.query<{ t: string | null }>(`SELECT to_regclass('flow_runs')::text AS t`).catch(() => null);
  if (!ready?.rows[0]?.t) {
    await rt.close();
    warnNotRecorded(new Error(`namespace "${rt.names.namespace}" has no Reflex tables yet; run \`reflex start\` once to set it up`));
    return null;
  }
  const runs = createRuns({ ...rt, resumedSuspensionSql });
  const client: EngineClient = makeClient({ bus: rt.bus, redis: rt.redis, names: rt.names, log: rt.log, runs, config: rt.config, artifacts: new Artifacts(rt.pg, rt.bus), pg: rt.pg }, () => {
    if (state.lazy === pending) state.lazy = undefined;
    void (async () => {
      client.heartbeats.close();
      await runs.drain().catch(() => {});
      await rt.close();
    })();
  });
  const pending = Promise.resolve(client);
  state.lazy = pending;
  return client;
}

function warnNotRecorded(err: unknown): void {
  if (state.warned) return;
  state.warned = true;
  const reason = err instanceof Error ? err.message.split('\n')[0] : String(err);
  process.stderr.write(`reflex: the engine is unreachable (${reason}); flows run in this process are not recorded\n`);
}

/** Logger for code running outside any recorded run (stdout only). */
export function fallbackLogger(): Logger {
  state.fallbackLog ??= createRunLogBase({ level: 'info', echoLevel: 'info' });
  return state.fallbackLog;
}

/**
 * The store as flow code's runs write to it, with every secret getSecret() revealed in this process
 * masked in what a state carries: a flow that throws `new Error(\`refused ${token}\`)` must not put the
 * token in the run's state message, its stored error, its state event or the API's answers.
 */
function maskingRevealed(store: Orchestration): Orchestration {
  const mask = (state: StateInput): StateInput => {
    const error = state.error && {
      ...state.error,
      name: scrubRevealed(state.error.name),
      message: scrubRevealed(state.error.message),
      stack: state.error.stack == null ? state.error.stack : scrubRevealed(state.error.stack),
    };
    return { ...state, ...(state.message === undefined ? {} : { message: scrubRevealed(state.message) }), ...(error ? { error } : {}) };
  };
  return {
    ...store,
    setFlowRunState: (id, state, options) => store.setFlowRunState(id, mask(state), options),
    setTaskRunState: (id, state, options) => store.setTaskRunState(id, mask(state), options),
  };
}
