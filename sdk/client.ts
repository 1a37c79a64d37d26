import { loadConfig } from '../core/config.ts';
import { createLogger } from '../core/log.ts';
import { openRuntime, type Runtime } from '../infra/runtime.ts';
import type { CreateTaskRunInput, Orchestration } from '../modules/runs/contract.ts';
import { orchestration } from '../modules/runs/run-store.ts';
import { Heartbeats } from '../modules/runs/heartbeats.ts';
import { createRunLogBase, type Logger } from './logger.ts';

/**
 * How flow code reaches the engine. A worker binds its runtime (`bindRuntime`); a script connects lazily
 * from the REFLEX_* environment on its first flow call, and closes again when no run is active, so a
 * script exits on its own. When the engine's dependencies are unreachable the flow still runs, warned
 * once as "not recorded".
 */
export interface EngineClient {
  readonly rt: Runtime;
  readonly store: Orchestration;
  readonly heartbeats: Heartbeats;
  /** Base of every run logger: stdout echo plus batched storage through the store. */
  readonly log: Logger;
  createTaskRun(id: string, input: CreateTaskRunInput): Promise<unknown>;
  /** Marks a run as active on this client; the returned function ends it (a script's client closes when none is active). */
  hold(): () => void;
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

function makeClient(rt: Runtime, onIdle?: () => void): EngineClient {
  const store = orchestration(rt).patient(DATABASE_PATIENCE_MS);
  const heartbeats = new Heartbeats(rt.redis, rt.names, rt.config.workerHeartbeatSeconds);
  // Run logs are stored from info up whatever the process log level; the process level only decides the stdout echo.
  const level = rt.config.logLevel === 'debug' || rt.config.logLevel === 'trace' ? rt.config.logLevel : 'info';
  const log = createRunLogBase({ level, echoLevel: rt.config.logLevel, store: (lines) => store.appendLogs(lines) });
  let active = 0;
  return {
    rt,
    store,
    heartbeats,
    log,
    // The SDK chooses the id so the task body has it at once; the write is batched and not awaited here.
    createTaskRun: (id, input) => store.createTaskRun({ ...input, id }),
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
  };
}

/** Makes flows called in this process record through `rt` (the worker does this on start). */
export function bindRuntime(rt: Runtime): EngineClient {
  const client = makeClient(rt);
  state.bound = client;
  return client;
}

export function unbindRuntime(client: EngineClient): void {
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
    rt = await openRuntime(config, createLogger({ level: 'warn' }));
  } catch (err) {
    warnNotRecorded(err);
    return null;
  }
  const client: EngineClient = makeClient(rt, () => {
    if (state.lazy === pending) state.lazy = undefined;
    void (async () => {
      client.heartbeats.close();
      await orchestration(rt).drain().catch(() => {});
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
