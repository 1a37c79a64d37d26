import { fork, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import type { Logger } from '../core/log.ts';
import type { ServiceName } from '../services/registry.ts';

/**
 * How `reflex start` (every service, `REFLEX_PROCESSES=multi`) spreads the services over processes: one
 * Node.js event loop per group, so the engine uses every core. The hot path (ingest → record → evaluate →
 * deliver) gets a process per hop; the services idle in that path share one.
 */
export const PROCESS_GROUPS: readonly (readonly ServiceName[])[] = [['api'], ['recorder'], ['automations'], ['webhooks'], ['scheduler', 'outbox', 'worker']];

/** What a child tells its supervisor over the IPC channel once its services run. */
export interface ChildReady {
  type: 'reflex-ready';
  services: { name: string; describe: string }[];
  apiUrl?: string;
}

export function isChildReady(m: unknown): m is ChildReady {
  return typeof m === 'object' && m !== null && (m as { type?: unknown }).type === 'reflex-ready';
}

const MAIN = fileURLToPath(new URL('./main.ts', import.meta.url));
/**
 * Children run the CLI from its TypeScript sources. Started through tsx (`npm start`), this process's
 * flags carry the loader; started by the compiled `reflex` binary, tsx was registered in-process, which a
 * child does not inherit: it gets the loader as a flag (resolved from here, whatever the cwd).
 */
const CHILD_EXEC_ARGV = process.execArgv.some((a) => a.includes('tsx')) ? process.execArgv : [...process.execArgv, '--import', import.meta.resolve('tsx')];
const BACKOFF_MIN_MS = 1000;
const BACKOFF_MAX_MS = 30_000;
/** A child up this long has recovered: its next crash restarts it after the shortest backoff again. */
const HEALTHY_AFTER_MS = 30_000;

interface Child {
  services: readonly ServiceName[];
  process: ChildProcess;
  startedAt: number;
  restarts: number;
  timer?: NodeJS.Timeout;
}

export interface Supervisor {
  /** Every child's ready message, in PROCESS_GROUPS order. */
  ready: ChildReady[];
  /** The metrics port given to each group without the API (0: no listener). */
  metricsPorts: Map<readonly ServiceName[], number>;
  /** SIGTERM to every child (each drains), resolved once all have exited. Safe to call twice. */
  stop(): Promise<void>;
  /** SIGKILL to every child (a second Ctrl-C). */
  kill(): void;
}

/**
 * The metrics port of each group without the API (the API's group serves /metrics on the API's port):
 * `base`, `base + 1`, … in group order, so that every process's counters can be scraped (when they all
 * wanted one port, only the first got it); all 0 when `base` is 0 (no listener), and 0 past 65535.
 */
export function metricsPorts(base: number, groups: readonly (readonly ServiceName[])[] = PROCESS_GROUPS): Map<readonly ServiceName[], number> {
  const ports = new Map<readonly ServiceName[], number>();
  let next = base;
  for (const g of groups) {
    if (g.includes('api')) continue;
    // Past the last port (a base near 65535) a group has no listener rather than a start that fails.
    ports.set(g, base === 0 || next > 65_535 ? 0 : next);
    next += 1;
  }
  return ports;
}

/**
 * Starts each group as a child process (`reflex start <group>` with REFLEX_PROCESSES=single and its own
 * REFLEX_METRICS_PORT, see metricsPorts) running the same node flags as this one (tsx's loader,
 * `--cpu-prof`), sharing this process's stdout and stderr: one log stream. The API's group starts first (it applies the migrations and creates the stream), the rest
 * together. A child that fails before it is ready fails the start (the caller exits with its code, its
 * own one-line error already printed); one that exits later is restarted with backoff.
 */
export async function supervise(log: Logger, metricsPort: number, groups = PROCESS_GROUPS): Promise<Supervisor> {
  const children: Child[] = [];
  let stopping: Promise<void> | undefined;
  const ports = metricsPorts(metricsPort, groups);

  const spawnChild = (services: readonly ServiceName[]): ChildProcess =>
    fork(MAIN, ['start', ...services], {
      execArgv: CHILD_EXEC_ARGV,
      env: { ...process.env, REFLEX_PROCESSES: 'single', REFLEX_METRICS_PORT: String(ports.get(services) ?? 0) },
      stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
    });

  const untilReady = (p: ChildProcess, services: readonly ServiceName[]) =>
    new Promise<ChildReady>((resolve, reject) => {
      const onMessage = (m: unknown) => {
        if (!isChildReady(m)) return;
        p.off('exit', onExit);
        p.off('message', onMessage);
        resolve(m);
      };
      const onExit = (code: number | null, signal: NodeJS.Signals | null) => {
        p.off('message', onMessage);
        reject(new ChildStartError(services, code ?? (signal ? 1 : 0)));
      };
      p.on('message', onMessage);
      p.once('exit', onExit);
    });

  const watch = (c: Child) => {
    c.process.once('exit', (code, signal) => {
      if (stopping) return;
      const healthy = Date.now() - c.startedAt > HEALTHY_AFTER_MS;
      c.restarts = healthy ? 0 : c.restarts + 1;
      const delay = Math.min(BACKOFF_MIN_MS * 2 ** Math.max(0, c.restarts - 1), BACKOFF_MAX_MS);
      log.error({ services: c.services, code, signal, restart_in_ms: delay }, 'a service process exited; restarting it');
      c.timer = setTimeout(() => {
        if (stopping) return;
        c.process = spawnChild(c.services);
        c.startedAt = Date.now();
        untilReady(c.process, c.services).then(
          () => log.info({ services: c.services }, 'service process restarted'),
          () => {
            /* its exit is watched below and restarts it again */
          },
        );
        watch(c);
      }, delay);
    });
  };

  const exited = (p: ChildProcess) => (p.exitCode !== null || p.signalCode !== null ? Promise.resolve() : new Promise<void>((r) => p.once('exit', () => r())));
  const stop = () =>
    (stopping ??= (async () => {
      for (const c of children) clearTimeout(c.timer);
      // Reverse start order, all at once: each child drains its own services.
      await Promise.all(
        [...children].reverse().map((c) => {
          const done = exited(c.process);
          if (c.process.exitCode === null && c.process.signalCode === null) c.process.kill('SIGTERM');
          return done;
        }),
      );
    })());
  const kill = () => {
    for (const c of children) if (c.process.exitCode === null && c.process.signalCode === null) c.process.kill('SIGKILL');
  };

  const start = (services: readonly ServiceName[]) => {
    const c: Child = { services, process: spawnChild(services), startedAt: Date.now(), restarts: 0 };
    children.push(c);
    return untilReady(c.process, services);
  };

  try {
    const [first, ...rest] = groups;
    const ready = [await start(first)];
    ready.push(...(await Promise.all(rest.map(start))));
    for (const c of children) watch(c);
    return { ready, metricsPorts: ports, stop, kill };
  } catch (err) {
    await stop();
    throw err;
  }
}

/** A child failed to start; it has printed why. */
export class ChildStartError extends Error {
  constructor(
    readonly services: readonly ServiceName[],
    readonly exitCode: number,
  ) {
    super(`the process of ${services.join(', ')} exited (${exitCode}) before it was ready`);
  }
}
