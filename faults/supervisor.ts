import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { createWriteStream, type WriteStream } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

/** Repository root: services run from there, as `npm start` does (flows modules resolve against it). */
export const REPO_ROOT = fileURLToPath(new URL('..', import.meta.url));

/** Live engine processes: detached, they would outlive a suite that dies, so its exit kills them. */
const live = new Set<ChildProcess>();
let exitHookInstalled = false;

/** SIGKILLs every engine process still running (the suite is exiting). */
export function killAllServiceProcesses(): void {
  for (const proc of live) {
    try {
      process.kill(-(proc.pid as number), 'SIGKILL');
    } catch {
      // Already gone.
    }
  }
  live.clear();
}

/** The engine's processes as deployed: one service (or the worker) each. */
export const SERVICE_PROCESSES = ['api', 'recorder', 'automations', 'outbox', 'scheduler', 'webhooks', 'worker'] as const;
export type ServiceProcessName = (typeof SERVICE_PROCESSES)[number];

export interface ProcessExit {
  at: number;
  code: number | null;
  signal: string | null;
  /** True when the suite killed it on purpose. */
  expected: boolean;
}

/**
 * One engine process: `node --import tsx cli/main.ts start <service>` (or `worker start`). Its output goes
 * to a log file of its own; `start()` resolves when it prints its start-up line, so start times are
 * measured from the spawn to the moment the service says it runs.
 */
export class ServiceProcess {
  private proc: ChildProcess | undefined;
  private log: WriteStream | undefined;
  /** The last lines it printed, for the report when it dies on its own. */
  private tail: string[] = [];
  readonly exits: ProcessExit[] = [];
  readonly startTimes: number[] = [];
  pid: number | undefined;
  private killing = false;

  constructor(
    readonly name: ServiceProcessName,
    private readonly args: string[],
    private readonly env: NodeJS.ProcessEnv,
    private readonly logDir: string,
  ) {}

  get running(): boolean {
    return this.proc !== undefined && this.proc.exitCode === null && this.proc.signalCode === null;
  }

  /** Exits the suite did not cause (a crash of the service itself). */
  get unexpectedExits(): ProcessExit[] {
    return this.exits.filter((e) => !e.expected);
  }

  lastLines(count = 5): string[] {
    return this.tail.slice(-count);
  }

  async start(timeoutMs = 60_000): Promise<number> {
    const spawnedAt = Date.now();
    this.log ??= createWriteStream(join(this.logDir, `${this.name}.log`), { flags: 'a' });
    this.log.write(`--- ${new Date(spawnedAt).toISOString()} starting\n`);
    const proc = spawn(process.execPath, ['--import', 'tsx', 'cli/main.ts', ...this.args], {
      cwd: REPO_ROOT,
      env: this.env,
      stdio: ['ignore', 'pipe', 'pipe'],
      // Its own process group, so a kill reaches nothing but it.
      detached: true,
    });
    this.proc = proc;
    this.pid = proc.pid;
    live.add(proc);
    if (!exitHookInstalled) {
      exitHookInstalled = true;
      process.once('exit', killAllServiceProcesses);
    }
    this.killing = false;
    let output = '';
    const onData = (chunk: Buffer) => {
      const text = chunk.toString();
      this.log?.write(text);
      this.tail = [...this.tail, ...text.split('\n').filter(Boolean)].slice(-50);
      if (output.length < 20_000) output += text;
    };
    proc.stdout?.on('data', onData);
    proc.stderr?.on('data', onData);
    proc.once('exit', (code, signal) => {
      live.delete(proc);
      this.exits.push({ at: Date.now(), code, signal, expected: this.killing });
      this.log?.write(`--- exited (${code ?? signal})\n`);
    });
    const ready = this.name === 'worker' ? 'Reflex worker running' : 'Press Ctrl-C to stop.';
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => done(new Error(`${this.name} did not start within ${timeoutMs} ms:\n${output.slice(-2000)}`)), timeoutMs);
      const check = () => output.includes(ready) && done();
      const exited = () => done(new Error(`${this.name} exited during start-up:\n${output.slice(-2000)}`));
      const done = (err?: Error) => {
        clearTimeout(timer);
        proc.stdout?.off('data', check);
        proc.off('exit', exited);
        if (err) reject(err);
        else resolve();
      };
      proc.stdout?.on('data', check);
      proc.once('exit', exited);
    });
    const readyAt = Date.now();
    this.startTimes.push(readyAt - spawnedAt);
    return readyAt;
  }

  /** SIGKILL: no shutdown, no goodbye to its connections, as when a host dies. */
  async kill(): Promise<void> {
    await this.signal('SIGKILL');
  }

  /** SIGTERM (the service drains and stops), then SIGKILL if it is still there after `graceMs`. */
  async stop(graceMs = 10_000): Promise<void> {
    const proc = this.proc;
    if (!proc || !this.running) return this.closeLog();
    const exited = once(proc, 'exit');
    this.killing = true;
    proc.kill('SIGTERM');
    const timer = setTimeout(() => this.signal('SIGKILL'), graceMs);
    await exited;
    clearTimeout(timer);
    this.closeLog();
  }

  private async signal(sig: NodeJS.Signals): Promise<void> {
    const proc = this.proc;
    if (!proc || !this.running) return;
    const exited = once(proc, 'exit');
    this.killing = true;
    try {
      process.kill(-(proc.pid as number), sig);
    } catch {
      proc.kill(sig);
    }
    await exited;
  }

  private closeLog(): void {
    this.log?.end();
    this.log = undefined;
  }
}

/** Every engine process of one scenario, started together. */
export class Supervisor {
  readonly processes: Map<ServiceProcessName, ServiceProcess>;

  constructor(env: NodeJS.ProcessEnv, automationsEnv: NodeJS.ProcessEnv, logDir: string, flowsModule: string) {
    this.processes = new Map(
      SERVICE_PROCESSES.map((name) => {
        const args = name === 'worker' ? ['worker', 'start', '--pool', 'default', '--flows', flowsModule] : ['start', name];
        return [name, new ServiceProcess(name, args, name === 'automations' ? automationsEnv : env, logDir)];
      }),
    );
  }

  get(name: ServiceProcessName): ServiceProcess {
    return this.processes.get(name) as ServiceProcess;
  }

  /** Starts every process at once (they migrate under an advisory lock, as replicas do). */
  async startAll(): Promise<void> {
    const results = await Promise.allSettled([...this.processes.values()].map((p) => p.start()));
    const failed = results.find((r): r is PromiseRejectedResult => r.status === 'rejected');
    if (failed) throw failed.reason;
  }

  async stopAll(): Promise<void> {
    await Promise.all([...this.processes.values()].map((p) => p.stop()));
  }
}
