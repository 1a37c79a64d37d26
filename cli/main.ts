#!/usr/bin/env -S npx tsx
import { runCli, type Loaders } from './program.ts';

/**
 * The CLI from its TypeScript sources (`npm run reflex`, tests, development). The `reflex` binary runs
 * the compiled bundle instead (cli/compiled.ts, bin/reflex.js).
 */
const ENGINE: Loaders = {
  start: async () => (await import('./commands/start.ts')).registerStart,
  reset: async () => (await import('./commands/reset.ts')).registerReset,
  automation: async () => (await import('./commands/automation.ts')).registerAutomation,
  deploy: async () => (await import('./commands/deploy.ts')).registerDeploy,
  // Registers 'concurrency-limit' too.
  'concurrency-limit': async () => (await import('./commands/deploy.ts')).registerDeploy,
  worker: async () => (await import('./commands/worker.ts')).registerWorker,
  // Secrets and variables (issue 13).
  secret: async () => (await import('./commands/secret.ts')).registerSecret,
  variable: async () => (await import('./commands/variable.ts')).registerVariable,
};

await runCli(process.argv, ENGINE);
