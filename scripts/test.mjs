#!/usr/bin/env node
// Runs every tests/**/*.test.ts file with Node's test runner (through tsx), or the files given as arguments.
import { spawn } from 'node:child_process';
import { readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';

function find(dir) {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) return find(path);
    return name.endsWith('.test.ts') ? [path] : [];
  });
}

const files = process.argv.slice(2).length ? process.argv.slice(2) : find('tests').sort();
const concurrency = process.env.REFLEX_TEST_CONCURRENCY ?? '2';
const args = ['--import', 'tsx', '--test', `--test-concurrency=${concurrency}`, '--test-timeout=120000', ...files];

// Development: a local NATS, Redis or PostgreSQL where a default URL does not answer and its variable is
// unset (infra/local-servers.ts; never with REFLEX_ENV=production), stopped when the tests end.
const { tsImport } = await import('tsx/esm/api');
const { startLocalServers } = await tsImport('../infra/local-servers.ts', import.meta.url);
const local = await startLocalServers({ env: process.env, say: (line) => process.stdout.write(`${line}\n`) });
const child = spawn(process.execPath, args, { stdio: 'inherit' });
// Ctrl-C reaches the test runner too (same process group); the servers stop once it has exited.
for (const signal of ['SIGINT', 'SIGTERM']) process.on(signal, () => child.kill(signal));
const status = await new Promise((resolve) => child.on('exit', (code, signal) => resolve(code ?? (signal ? 1 : 0))));
await local.stop();
process.exit(status);
