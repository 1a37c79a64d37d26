import type { Command } from 'commander';
import { loadConfig } from '../../core/config.ts';
import { createLogger } from '../../core/log.ts';
import { openRuntime } from '../../infra/runtime.ts';
import { announceAutomationChange, applyAutomationFiles, readAutomationFiles } from '../../modules/automations/index.ts';

/** `reflex automation apply|validate <dir|file>`: automations as files, upserted by name. */
export function registerAutomation(program: Command): void {
  const automation = program.command('automation').description('manage automations defined as JSON files');

  automation
    .command('apply')
    .description('validate every file, then create or update the automations by name in one transaction')
    .argument('<path>', 'a directory of *.json files or one file')
    .action(async (path: string) => {
      const config = loadConfig();
      // Validate before connecting, so a bad file is reported even when the services are down.
      await readAutomationFiles(path);
      const rt = await openRuntime(config, createLogger({ level: 'warn' }));
      try {
        const report = await applyAutomationFiles(rt.pg, path);
        if (report.created.length || report.changed.length) announceAutomationChange(rt.nats, rt.names, rt.log);
        const line = (label: string, names: string[]) => process.stdout.write(`${label.padEnd(10)} ${names.length ? names.join(', ') : '-'}\n`);
        line('created', report.created);
        line('changed', report.changed);
        line('unchanged', report.unchanged);
      } finally {
        await rt.close();
      }
    });

  automation
    .command('validate')
    .description('check automation files without applying them')
    .argument('<path>', 'a directory of *.json files or one file')
    .action(async (path: string) => {
      const docs = await readAutomationFiles(path);
      process.stdout.write(`${docs.length} automation file(s) valid: ${docs.map((d) => d.doc.name).join(', ')}\n`);
    });
}
