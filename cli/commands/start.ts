import type { Command } from 'commander';
import { loadConfig } from '../../core/config.ts';
import { createLogger } from '../../core/log.ts';
import { startLocalServers } from '../../infra/local-servers.ts';
import { startTracing, tracingFromEnv } from '../../infra/tracing.ts';
import type { ApiService } from '../../services/api/main.ts';
import { startEngine } from '../../services/engine.ts';
import { SERVICE_NAMES, type ServiceName } from '../../services/registry.ts';
import { fail } from '../output.ts';

export function registerStart(program: Command): void {
  program
    .command('start')
    .description(`run services in this process: ${SERVICE_NAMES.join(', ')} (all when none is named)`)
    .argument('[services...]', 'services to run')
    .action(async (requested: string[]) => {
      const unknown = requested.filter((s) => !SERVICE_NAMES.includes(s as ServiceName));
      if (unknown.length) fail(`unknown service "${unknown[0]}"; choose from: ${SERVICE_NAMES.join(', ')}`);
      const config = loadConfig();
      const log = createLogger({ level: config.logLevel, pretty: config.prettyLogs });
      // Traces: off unless the standard OTEL_* variables ask for them (docs/operations.md).
      const tracingOptions = tracingFromEnv(process.env);
      const tracing = tracingOptions ? startTracing(tracingOptions) : undefined;
      // Development: a local NATS, Redis or PostgreSQL where a default URL does not answer (never in
      // production or for a URL the user set); stopped with the engine.
      const local = await startLocalServers({ env: process.env, dataDir: config.localDir, say: (line) => process.stdout.write(`${line}\n`) });
      const engine = await startEngine(config, { services: requested as ServiceName[], log }).catch(async (err: unknown) => {
        await local.stop();
        throw err;
      });
      const out = process.stdout;
      out.write(`Reflex is running (namespace "${config.namespace}")\n`);
      for (const s of engine.services) out.write(`  ${s.name.padEnd(12)} ${s.describe?.() ?? 'started'}\n`);
      const api = engine.services.find((s): s is ApiService => s.name === 'api');
      // With REFLEX_PORT=0 the real port is only known once listening; REFLEX_PUBLIC_URL wins when set.
      const url = process.env.REFLEX_PUBLIC_URL ? config.publicUrl : (api?.url ?? config.publicUrl);
      if (api) out.write(`\n  API: ${url}/api  (health: ${url}/api/health)\n`);
      if (tracing) out.write(`  Traces: exported (${process.env.OTEL_TRACES_EXPORTER || 'otlp'}) as service "${tracingOptions?.serviceName}"\n`);
      out.write('Press Ctrl-C to stop.\n');

      let signals = 0;
      const shutdown = async (signal: string) => {
        signals += 1;
        if (signals > 1) {
          out.write(`\n${signal} again: exiting without draining\n`);
          process.exit(1);
        }
        out.write(`\n${signal}: draining and stopping...\n`);
        await engine.stop();
        await tracing?.shutdown().catch(() => {});
        await local.stop();
        out.write('stopped cleanly\n');
        process.exit(0);
      };
      process.on('SIGINT', () => void shutdown('SIGINT'));
      process.on('SIGTERM', () => void shutdown('SIGTERM'));
    });
}
