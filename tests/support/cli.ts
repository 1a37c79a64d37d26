import { spawn } from 'node:child_process';

const ROOT = new URL('../..', import.meta.url).pathname;

export interface CliRun {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Runs the `reflex` binary as a user would (bin/reflex.js: the compiled CLI), with extra environment variables. */
export function reflexBin(args: string[], env: Record<string, string> = {}): Promise<CliRun> {
  const child = spawn(process.execPath, ['bin/reflex.js', ...args], {
    cwd: ROOT,
    env: { ...process.env, REFLEX_LOG_LEVEL: 'warn', REFLEX_LOG_FORMAT: 'json', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (d) => (stdout += d));
  child.stderr.on('data', (d) => (stderr += d));
  return new Promise((resolve) => child.on('close', (code) => resolve({ code, stdout, stderr })));
}
