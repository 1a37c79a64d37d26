import { spawn } from 'node:child_process';

const START_TIMEOUT_MS = 120_000;

export interface ReflexProcess {
  pid: number;
  /** What it printed up to its start-up line (e.g. the API's URL). */
  output: string;
  /** SIGTERM, then waits for the exit (the service drains). */
  stop(): Promise<void>;
}

/**
 * Runs `reflex <args>` in a process of its own, as services and workers are deployed, and resolves once
 * it prints `ready` (its start-up line). The benchmark's engine shares a core with nothing it would not
 * share with in production.
 */
export async function startReflexProcess(args: string[], env: Record<string, string>, ready: string): Promise<ReflexProcess> {
  // BENCH_CHILD_NODE_ARGS="--cpu-prof --cpu-prof-dir=/tmp/prof" profiles the child (not allowed in NODE_OPTIONS).
  const nodeArgs = (process.env.BENCH_CHILD_NODE_ARGS ?? '').split(' ').filter(Boolean);
  const child = spawn(process.execPath, [...nodeArgs, '--import', 'tsx', 'cli/main.ts', ...args], {
    env: { ...process.env, REFLEX_LOG_LEVEL: 'warn', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const stop = async () => {
    if (child.exitCode !== null || child.signalCode !== null) return;
    const exited = new Promise((r) => child.once('exit', r));
    child.kill('SIGTERM');
    await exited;
  };
  let out = '';
  try {
    await new Promise<void>((resolve, reject) => {
      // Generous: on a shared, loaded machine four tsx start-ups at once took over 30 s.
      const timer = setTimeout(() => reject(new Error(`reflex ${args.join(' ')} did not start within ${START_TIMEOUT_MS / 1000} s: ${out}`)), START_TIMEOUT_MS);
      const onData = (d: Buffer) => {
        out += d.toString();
        if (out.includes(ready)) {
          clearTimeout(timer);
          resolve();
        }
      };
      child.stdout.on('data', onData);
      child.stderr.on('data', onData);
      child.once('exit', (code) => reject(new Error(`reflex ${args.join(' ')} exited (${code}): ${out}`)));
    });
  } catch (err) {
    await stop();
    throw err;
  }
  return { pid: child.pid as number, output: out, stop };
}
