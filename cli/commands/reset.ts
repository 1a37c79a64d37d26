import type { Command } from 'commander';
import { loadConfig } from '../../core/config.ts';
import { createLogger } from '../../core/log.ts';
import { resetNamespace } from '../../infra/reset.ts';
import { openRuntime } from '../../infra/runtime.ts';
import { fail } from '../output.ts';

export function registerReset(program: Command): void {
  program
    .command('reset')
    .description("delete everything a namespace owns: its streams and consumers, queues and Redis keys, its Postgres schema")
    .option('--namespace <ns>', 'namespace to delete (default: REFLEX_NAMESPACE)')
    .option('--yes', 'confirm; nothing is deleted without it')
    .action(async (opts: { namespace?: string; yes?: boolean }) => {
      const config = loadConfig(process.env, opts.namespace ? { namespace: opts.namespace } : {});
      if (!opts.yes) fail(`this deletes all data of namespace "${config.namespace}"; add --yes to confirm`);
      const rt = await openRuntime(config, createLogger({ level: 'warn' }), { prepare: false });
      try {
        const report = await resetNamespace(rt);
        process.stdout.write(
          `namespace "${config.namespace}" reset: streams deleted [${report.streams.join(', ')}], ` +
            `${report.redisKeys} Redis keys deleted, Postgres schema ${report.schemaDropped ? 'dropped' : 'absent'}\n`,
        );
      } finally {
        await rt.close();
      }
    });
}
