#!/usr/bin/env -S npx tsx
import { Command } from 'commander';
import { registerAutomation } from './commands/automation.ts';
import { registerDeploy } from './commands/deploy.ts';
import { registerEvents } from './commands/events.ts';
import { registerReset } from './commands/reset.ts';
import { registerStart } from './commands/start.ts';
import { registerWorker } from './commands/worker.ts';
import { report } from './output.ts';

const program = new Command('reflex')
  .description('Reflex: event-driven automation engine and workflow orchestrator')
  .showHelpAfterError();

registerStart(program);
registerReset(program);
registerEvents(program);
registerAutomation(program);
registerDeploy(program);
registerWorker(program);

try {
  await program.parseAsync(process.argv);
} catch (err) {
  process.exit(report(err));
}
