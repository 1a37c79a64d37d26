import type { Config } from '../core/config.ts';
import { createLogger, type Logger } from '../core/log.ts';
import { openRuntime, type Runtime } from '../infra/runtime.ts';
import { registerCollectors, startMetricsListener } from './metrics.ts';
import { createModules, type Modules } from './modules.ts';
import { SERVICE_NAMES, SERVICES, type ServiceName } from './registry.ts';
import type { Service } from './service.ts';

export interface Engine {
  readonly rt: Runtime;
  readonly modules: Modules;
  readonly services: Service[];
  /** Stops services in reverse start order, commits what the modules hold, then closes connections. Safe to call twice. */
  stop(): Promise<void>;
}

/** Opens the runtime, builds the modules and starts the named services (all when none are named). */
export async function startEngine(config: Config, options: { services?: ServiceName[]; log?: Logger } = {}): Promise<Engine> {
  const log = options.log ?? createLogger({ level: config.logLevel, pretty: config.prettyLogs });
  const rt = await openRuntime(config, log);
  const modules = createModules(rt);
  const wanted = options.services && options.services.length > 0 ? options.services : SERVICE_NAMES;
  registerCollectors(rt);
  const started: Service[] = [];
  let metricsListener: Awaited<ReturnType<typeof startMetricsListener>>;
  let stopping: Promise<void> | undefined;
  const stop = () =>
    (stopping ??= (async () => {
      for (const service of [...started].reverse()) {
        try {
          await service.stop();
        } catch (err) {
          log.error({ err, service: service.name }, 'service did not stop cleanly');
        }
      }
      await metricsListener?.close();
      await modules.runs.drain().catch((err: unknown) => log.error({ err }, 'run changes not written at shutdown'));
      await rt.close();
    })());
  try {
    for (const name of SERVICE_NAMES.filter((n) => wanted.includes(n))) {
      const service = await SERVICES[name](rt, modules);
      await service.start();
      started.push(service);
    }
    // The API serves GET /metrics on its own port; a process without it gets a listener of its own.
    if (!started.some((s) => s.name === 'api')) {
      metricsListener = await startMetricsListener(rt);
      if (metricsListener) log.info({ url: metricsListener.url }, `metrics at ${metricsListener.url}`);
    }
  } catch (err) {
    await stop();
    throw err;
  }
  return { rt, modules, services: started, stop };
}
