import { spawn, type ChildProcess } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { forkBenchChild } from './e2e-child.ts';
import { startReflexProcess, type ReflexProcess } from './processes.ts';

/**
 * The deployments bench/e2e.ts measures, each started as users start it:
 *  - `default`: `npm start`: a supervised process per service group (REFLEX_PROCESSES=multi, the default),
 *    or every service in one process with REFLEX_PROCESSES=single;
 *  - `split`: the services in processes of their own (`reflex start api`, `... recorder`, `... automations`,
 *    `... webhooks`, and `... scheduler outbox`, idle here but part of a deployment);
 *  - `baseline`: the non-durable plain node:http flow (bench/e2e-baseline.ts).
 */
export type DeploymentName = 'default' | 'split' | 'baseline';

export interface Deployment {
  name: DeploymentName;
  /** Base URL of the HTTP ingest (POST /api/events). */
  url: string;
  /** Labels of its processes for the CPU figures, keyed as bench/cpu.ts groups them (`node <pid>`). */
  processes: Record<string, string>;
  stop(): Promise<void>;
}

const READY = 'Press Ctrl-C';

function apiUrl(output: string): string {
  const url = /API: (http:\/\/[^\s]+)\/api/.exec(output)?.[1];
  if (!url) throw new Error(`could not read the API's URL from: ${output}`);
  return url;
}

function parentOf(pid: string): string | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1];
  } catch {
    return undefined;
  }
}

/** Every live process whose ancestry leads to `root`, read from /proc. */
function descendants(root: number): number[] {
  const pids = readdirSync('/proc').filter((p) => /^\d+$/.test(p));
  const parents = new Map(pids.map((p) => [p, parentOf(p)]));
  const out: number[] = [];
  for (const pid of pids) {
    for (let p = parents.get(pid); p !== undefined && p !== '0'; p = parents.get(p)) {
      if (p === String(root)) {
        out.push(Number(pid));
        break;
      }
    }
  }
  return out;
}

function cmdline(pid: number): string[] {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0');
  } catch {
    return [];
  }
}

/**
 * `npm start` exactly as a user runs it (npm → sh → tsx → node running cli/main.ts), in a process group of
 * its own so that nothing of it outlives the bench. SIGTERM goes to the engine process itself: npm does
 * not pass it on, while the engine drains and exits on it and its wrappers exit with it.
 *
 * With BENCH_CHILD_NODE_ARGS (say `--cpu-prof`, which node refuses in NODE_OPTIONS, the only way into a
 * process npm starts) the engine runs as the command npm start's process runs, minus the npm and tsx
 * wrappers: `node <args> --import tsx cli/main.ts start`.
 */
async function startDefault(env: Record<string, string>): Promise<Deployment> {
  const nodeArgs = (process.env.BENCH_CHILD_NODE_ARGS ?? '').split(' ').filter(Boolean);
  const [bin, args] = nodeArgs.length > 0 ? [process.execPath, [...nodeArgs, '--import', 'tsx', 'cli/main.ts', 'start']] : ['npm', ['start']];
  const child = spawn(bin, args, { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'], detached: true });
  const group = child.pid as number;
  const killGroup = () => {
    try {
      process.kill(-group, 'SIGKILL');
    } catch {
      /* already gone */
    }
  };
  try {
    const output = await startupOutput(child, 'npm start');
    // The engine's processes: the one that runs cli/main.ts under tsx's loader (all services, or with
    // REFLEX_PROCESSES=multi the supervisor) and the service processes it forked (`... start <group>`).
    const isEngine = (pid: number) => cmdline(pid).includes('--import') && cmdline(pid).some((a) => a.endsWith('cli/main.ts'));
    const all = [...(nodeArgs.length > 0 ? [group] : []), ...descendants(group)].filter(isEngine);
    const engine = nodeArgs.length > 0 ? group : all.find((pid) => cmdline(pid).filter(Boolean).at(-1) === 'start');
    if (!engine) throw new Error('could not find the engine process under npm start');
    const label = (pid: number) => {
      const args = cmdline(pid).filter(Boolean);
      const services = args.slice(args.indexOf('start') + 1);
      if (services.length > 0) return `reflex ${services.join(' + ')}`;
      return all.length > 1 ? 'reflex supervisor' : 'reflex (all services)';
    };
    return {
      name: 'default',
      url: apiUrl(output),
      processes: Object.fromEntries(all.map((pid) => [`node ${pid}`, label(pid)])),
      async stop() {
        if (child.exitCode !== null || child.signalCode !== null) return;
        const exited = new Promise((r) => child.once('exit', r));
        process.kill(engine, 'SIGTERM');
        const timer = setTimeout(killGroup, 30_000);
        await exited;
        clearTimeout(timer);
        killGroup();
      },
    };
  } catch (err) {
    killGroup();
    throw err;
  }
}

function startupOutput(child: ChildProcess, what: string): Promise<string> {
  return new Promise((resolve, reject) => {
    let out = '';
    const timer = setTimeout(() => reject(new Error(`${what} did not start within 60 s: ${out}`)), 60_000);
    const onData = (d: Buffer) => {
      out += d.toString();
      if (out.includes(READY)) {
        clearTimeout(timer);
        resolve(out);
      }
    };
    child.stdout?.on('data', onData);
    child.stderr?.on('data', onData);
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`${what} exited (${code}): ${out}`));
    });
  });
}

/** Each service in a process of its own (bench/processes.ts, which BENCH_CHILD_NODE_ARGS profiles). */
async function startSplit(env: Record<string, string>): Promise<Deployment> {
  const started: ReflexProcess[] = [];
  const stop = async () => {
    for (const p of started.reverse()) await p.stop();
  };
  try {
    const start = async (...services: string[]) => {
      const p = await startReflexProcess(['start', ...services], env, READY);
      started.push(p);
      return { p, label: services.join(' + ') };
    };
    // The API first: it applies the migrations the others would otherwise race for.
    const api = await start('api');
    const rest = await Promise.all([start('recorder'), start('automations'), start('webhooks'), start('scheduler', 'outbox')]);
    return {
      name: 'split',
      url: apiUrl(api.p.output),
      processes: Object.fromEntries([api, ...rest].map(({ p, label }) => [`node ${p.pid}`, label])),
      stop,
    };
  } catch (err) {
    await stop();
    throw err;
  }
}

async function startBaseline(receiverUrl: string): Promise<Deployment> {
  const child = await forkBenchChild('./e2e-baseline.ts', { BENCH_RECEIVER_URL: receiverUrl });
  return { name: 'baseline', url: `http://127.0.0.1:${child.ready.port}`, processes: { [`node ${child.pid}`]: 'baseline flow' }, stop: () => child.stop() };
}

export function startDeployment(name: DeploymentName, env: Record<string, string>, receiverUrl: string): Promise<Deployment> {
  switch (name) {
    case 'default':
      return startDefault(env);
    case 'split':
      return startSplit(env);
    case 'baseline':
      return startBaseline(receiverUrl);
    default: {
      const never: never = name;
      throw new Error(`unknown deployment ${String(never)}`);
    }
  }
}
