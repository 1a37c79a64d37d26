import { setFlagsFromString } from 'node:v8';
import type { Command } from 'commander';
import { loadConfig } from '../../core/config.ts';
import { createLogger } from '../../core/log.ts';
import { startLocalServers, type LocalServers } from '../../infra/local-servers.ts';
import { startTracing, tracingFromEnv } from '../../infra/tracing.ts';
import type { ApiService } from '../../services/api/main.ts';
import type { ServiceName } from '../../services/registry.ts';
import { fail } from '../output.ts';
import { ChildStartError, PROCESS_GROUPS, supervise, type ChildReady } from '../supervise.ts';

/**
 * Turns off V8's allocation-site pretenuring in a process that serves the API, unless the node command
 * line decides (`node --allocation-site-pretenuring …` keeps V8's default). V8 learns per allocation site
 * which objects tend to survive and then allocates them straight in the old generation. A burst of large
 * requests (batches of 1,000 events) teaches it that of the sites every request goes through (the HTTP
 * parser's, a handler's), and it keeps allocating those short-lived objects in the old generation after
 * the burst: measured in the API after the ingest bench's batch phase, 1.7 MB promoted per young collection
 * instead of 0.1-0.4, and each young collection 3-6 ms instead of 1-3, which was the single-event POST's
 * p99 (docs/performance.md, round 8). Only the API: in the consumers, which hold messages for a batch, the
 * same change measured no better and possibly worse.
 */
function keepRequestObjectsYoung(services: readonly string[]): void {
  const decided = process.execArgv.some((a) => a.includes('pretenuring'));
  if (!decided && (services.length === 0 || services.includes('api'))) setFlagsFromString('--no-allocation-site-pretenuring');
}

/** A second stop signal this soon after the first is the wrappers' copy of it (see shutdown). */
const DUPLICATE_SIGNAL_MS = 1000;

export function registerStart(program: Command): void {
  program
    .command('start')
    .description(
      `run services: ${PROCESS_GROUPS.flat().join(', ')} (all when none is named: a supervised process per service group, or this one process with REFLEX_PROCESSES=single)`,
    )
    .argument('[services...]', 'services to run (in this process)')
    .action(async (requested: string[]) => {
      const config = loadConfig();
      const log = createLogger({ level: config.logLevel, pretty: config.prettyLogs });
      const out = process.stdout;
      // Started by a supervisor (an IPC channel to it): report readiness to it, which prints the banner.
      const supervised = typeof process.send === 'function' && config.processes === 'single';
      // Development: a local NATS, Redis or PostgreSQL where a default URL does not answer (never in
      // production or for a URL the user set); stopped with the engine. Started once, by the process the
      // user ran: a supervised child finds them answering.
      const local = supervised
        ? undefined
        : await startLocalServers({ env: process.env, dataDir: config.localDir, say: (line) => process.stdout.write(`${line}\n`) });
      if (requested.length === 0 && config.processes === 'multi') return startSupervised(log, config.namespace, config.publicUrl, config.metricsPort, local);
      // Traces: off unless the standard OTEL_* variables ask for them (docs/operations.md); each process exports its own spans.
      const tracingOptions = tracingFromEnv(process.env);
      const tracing = tracingOptions ? startTracing(tracingOptions) : undefined;

      // Loaded here, not at the top: a supervisor process never carries the engine (it starts faster).
      const { SERVICE_NAMES } = await import('../../services/registry.ts');
      const unknown = requested.filter((s) => !SERVICE_NAMES.includes(s as ServiceName));
      if (unknown.length) fail(`unknown service "${unknown[0]}"; choose from: ${SERVICE_NAMES.join(', ')}`);
      keepRequestObjectsYoung(requested);
      const { startEngine } = await import('../../services/engine.ts');
      const engine = await startEngine(config, { services: requested as ServiceName[], log }).catch(async (err: unknown) => {
        await local?.stop();
        throw err;
      });
      const api = engine.services.find((s): s is ApiService => s.name === 'api');
      let firstSignalAt = 0;
      const shutdown = async (signal: string) => {
        // Ctrl-C reaches every process of the terminal's group, and npm and tsx pass it on once more: a
        // second signal within a second is that copy, not a user insisting.
        if (firstSignalAt > 0 && Date.now() - firstSignalAt < DUPLICATE_SIGNAL_MS) return;
        if (firstSignalAt > 0) {
          out.write(`\n${signal} again: exiting without draining\n`);
          process.exit(1);
        }
        firstSignalAt = Date.now();
        if (!supervised) out.write(`\n${signal}: draining and stopping...\n`);
        await engine.stop();
        await tracing?.shutdown().catch(() => {});
        await local?.stop();
        if (!supervised) out.write('stopped cleanly\n');
        process.exit(0);
      };
      if (supervised) {
        // Ctrl-C reaches the whole terminal process group: the supervisor decides, and sends SIGTERM.
        process.on('SIGINT', () => {});
        process.on('SIGTERM', () => void shutdown('SIGTERM'));
        // The supervisor gone (killed): nothing of ours outlives it.
        process.once('disconnect', () => void (firstSignalAt === 0 && shutdown('disconnect')));
        const ready: ChildReady = { type: 'reflex-ready', services: engine.services.map((s) => ({ name: s.name, describe: s.describe?.() ?? 'started' })), apiUrl: api?.url };
        process.send?.(ready);
        return;
      }
      out.write(`Reflex is running (namespace "${config.namespace}")\n`);
      for (const s of engine.services) out.write(`  ${s.name.padEnd(12)} ${s.describe?.() ?? 'started'}\n`);
      // With REFLEX_PORT=0 the real port is only known once listening; REFLEX_PUBLIC_URL wins when set.
      const url = process.env.REFLEX_PUBLIC_URL ? config.publicUrl : (api?.url ?? config.publicUrl);
      if (api) out.write(`\n  Dashboard: ${url}/\n  API: ${url}/api  (health: ${url}/api/health)\n`);
      if (tracing) out.write(`  Traces: exported (${process.env.OTEL_TRACES_EXPORTER || 'otlp'}) as service "${tracingOptions?.serviceName}"\n`);
      out.write('Press Ctrl-C to stop.\n');
      process.on('SIGINT', () => void shutdown('SIGINT'));
      process.on('SIGTERM', () => void shutdown('SIGTERM'));
    });
}

/** Every service, a supervised child process per group (cli/supervise.ts); this process only supervises. */
async function startSupervised(log: ReturnType<typeof createLogger>, namespace: string, publicUrl: string, metricsPort: number, local: LocalServers | undefined): Promise<void> {
  const out = process.stdout;
  let sup;
  try {
    sup = await supervise(log.child({ service: 'supervisor' }), metricsPort);
  } catch (err) {
    await local?.stop();
    // The child printed its own one-line reason (an unreachable dependency, a bad setting).
    if (err instanceof ChildStartError) process.exit(err.exitCode || 1);
    throw err;
  }
  const supervisor = sup;
  out.write(`Reflex is running (namespace "${namespace}", ${supervisor.ready.length} processes; REFLEX_PROCESSES=single for one)\n`);
  for (const r of supervisor.ready) for (const s of r.services) out.write(`  ${s.name.padEnd(12)} ${s.describe}\n`);
  const apiUrl = supervisor.ready.find((r) => r.apiUrl)?.apiUrl;
  const url = process.env.REFLEX_PUBLIC_URL ? publicUrl : (apiUrl ?? publicUrl);
  if (apiUrl) out.write(`\n  Dashboard: ${url}/\n  API: ${url}/api  (health: ${url}/api/health)\n`);
  if (metricsPort !== 0) {
    const others = [...supervisor.metricsPorts].map(([g, port]) => `${g.join('+')} :${port}`).join(', ');
    out.write(`  Metrics: ${apiUrl ? `${url}/metrics (api), ` : ''}each other process on its own port: ${others}\n`);
  }
  const tracing = tracingFromEnv(process.env);
  if (tracing) out.write(`  Traces: exported (${process.env.OTEL_TRACES_EXPORTER || 'otlp'}) by each process as service "${tracing.serviceName}"\n`);
  out.write('Press Ctrl-C to stop.\n');
  let firstSignalAt = 0;
  const shutdown = async (signal: string) => {
    if (firstSignalAt > 0 && Date.now() - firstSignalAt < DUPLICATE_SIGNAL_MS) return;
    if (firstSignalAt > 0) {
      out.write(`\n${signal} again: exiting without draining\n`);
      supervisor.kill();
      await local?.stop();
      process.exit(1);
    }
    firstSignalAt = Date.now();
    out.write(`\n${signal}: draining and stopping...\n`);
    await supervisor.stop();
    await local?.stop();
    out.write('stopped cleanly\n');
    process.exit(0);
  };
  process.on('SIGINT', () => void shutdown('SIGINT'));
  process.on('SIGTERM', () => void shutdown('SIGTERM'));
}
