#!/usr/bin/env -S npx tsx
import { Command } from 'commander';
import { report } from './output.ts';

type Register = (program: Command) => void;

/**
 * Commands by name, loaded on demand: a process loads only the command it runs (a worker does not carry
 * the API server, the template engine or the migration runner); help and unknown commands load them all.
 */
const COMMANDS: Record<string, () => Promise<Register>> = {
  start: async () => (await import('./commands/start.ts')).registerStart,
  reset: async () => (await import('./commands/reset.ts')).registerReset,
  events: async () => (await import('./commands/events.ts')).registerEvents,
  automation: async () => (await import('./commands/automation.ts')).registerAutomation,
  deploy: async () => (await import('./commands/deploy.ts')).registerDeploy,
  // Registers 'concurrency-limit' too.
  'concurrency-limit': async () => (await import('./commands/deploy.ts')).registerDeploy,
  worker: async () => (await import('./commands/worker.ts')).registerWorker,
  // Secrets and variables (issue 13).
  secret: async () => (await import('./commands/secret.ts')).registerSecret,
  variable: async () => (await import('./commands/variable.ts')).registerVariable,
};

const program = new Command('reflex')
  .description('Reflex: event-driven automation engine and workflow orchestrator')
  .showHelpAfterError();

const requested = process.argv[2];
const load = requested !== undefined && Object.hasOwn(COMMANDS, requested) ? [COMMANDS[requested]] : Object.values(COMMANDS);
const registered = new Set<Register>();
for (const loader of load) {
  const register = await loader();
  if (!registered.has(register)) register(program);
  registered.add(register);
}

try {
  await program.parseAsync(process.argv);
} catch (err) {
  process.exit(report(err));
}
