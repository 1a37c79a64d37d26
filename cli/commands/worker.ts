import type { Command } from 'commander';
import { loadConfig } from '../../core/config.ts';
import { createLogger } from '../../core/log.ts';
import { openRuntime } from '../../infra/runtime.ts';
import { createModules } from '../../services/modules.ts';
import { createWorkerService } from '../../services/worker/main.ts';
import { fail } from '../output.ts';

export function registerWorker(program: Command): void {
  const worker = program.command('worker').description('flow-run workers');
  worker
    .command('start')
    .description('run a worker for one work pool in this process')
    .option('-p, --pool <name>', 'work pool to take runs from', 'default')
    .option('-f, --flows <module>', 'flows module (.ts or .js) whose exported flows it runs (default: REFLEX_FLOWS)')
    .option('-c, --concurrency <n>', 'flow runs executed at once (default: REFLEX_WORKER_CONCURRENCY)')
    .action(async (opts: { pool: string; flows?: string; concurrency?: string }) => {
      const concurrency = opts.concurrency === undefined ? undefined : Number(opts.concurrency);
      if (concurrency !== undefined && (!Number.isInteger(concurrency) || concurrency < 1)) fail(`--concurrency must be a positive integer, got "${opts.concurrency}"`);
      const config = loadConfig();
      const log = createLogger({ level: config.logLevel, pretty: config.prettyLogs });
      const rt = await openRuntime(config, log);
      const modules = createModules(rt);
      let service;
      try {
        service = await createWorkerService(rt, modules, { pool: opts.pool, ...(opts.flows ? { flowsModule: opts.flows } : {}), ...(concurrency ? { concurrency } : {}) });
        await service.start();
      } catch (err) {
        await rt.close();
        throw err;
      }
      process.stdout.write(`Reflex worker running (namespace "${config.namespace}"): ${service.describe()}\nPress Ctrl-C to stop.\n`);
      let signals = 0;
      const shutdown = async (signal: string) => {
        if (++signals > 1) process.exit(1);
        process.stdout.write(`\n${signal}: finishing running flows and stopping...\n`);
        await service.stop();
        await modules.runs.drain().catch(() => {});
        await rt.close();
        process.exit(0);
      };
      process.on('SIGINT', () => void shutdown('SIGINT'));
      process.on('SIGTERM', () => void shutdown('SIGTERM'));
    });
}
