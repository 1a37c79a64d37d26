#!/usr/bin/env -S npx tsx
import { Command } from 'commander';
import { registerDeploy } from './commands/deploy.ts';
import { registerReset } from './commands/reset.ts';
import { registerStart } from './commands/start.ts';
import { report } from './output.ts';

const program = new Command('reflex')
  .description('Reflex: event-driven automation engine and workflow orchestrator')
  .showHelpAfterError();

registerStart(program);
registerReset(program);
registerDeploy(program);

try {
  await program.parseAsync(process.argv);
} catch (err) {
  process.exit(report(err));
}
