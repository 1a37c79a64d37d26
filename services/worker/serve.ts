import { loadConfig } from '../../core/config.ts';
import { ValidationError } from '../../core/errors.ts';
import { createLogger } from '../../core/log.ts';
import { openRuntime } from '../../infra/runtime.ts';
import { DeploymentInputSchema } from '../../schemas/deployment.ts';
import { isFlow } from '../../sdk/flow.ts';
import { SERVE_KEY, type ServeHandle, type ServeImplementation, type ServeOptions } from '../../sdk/serve.ts';
import { createModules } from '../modules.ts';
import { workerOptions } from './config.ts';
import { FlowWorker } from './worker.ts';

/**
 * `reflex/serve`: importing it lets `flow.serve()` work in this process (flow authors, issue 13). It opens
 * a runtime from the REFLEX_* environment, applies the deployment (idempotent on name), and runs a worker
 * of the deployment's own pool with just that flow. SIGINT/SIGTERM drain it: no new runs, running ones finish.
 */
export const serve: ServeImplementation = async (flow, options) => {
  if (!isFlow(flow)) throw new ValidationError('serve(): not a flow made by flow()');
  const pool = options.workPool ?? `serve-${options.name}`;
  const parsed = DeploymentInputSchema.safeParse({
    name: options.name,
    flow: flow.flowName,
    work_pool: pool,
    schedules: options.schedules ?? [],
    parameters: options.parameters ?? {},
    parameter_schema: flow.parameterSchema() ?? undefined,
  });
  if (!parsed.success) throw ValidationError.fromIssues(`serve options of "${flow.flowName}"`, parsed.error.issues);
  const config = loadConfig();
  const rt = await openRuntime(config, createLogger({ level: config.logLevel, pretty: config.prettyLogs }));
  const modules = createModules(rt);
  let worker: FlowWorker;
  let deploymentId: string;
  try {
    const [applied] = await modules.runs.deployments.apply([parsed.data]);
    deploymentId = applied.id;
    worker = new FlowWorker(rt, modules.runs, workerOptions(rt.config, { pool, concurrency: options.concurrency ?? 1, flowsModule: `(served: ${flow.flowName})` }), new Map([[flow.flowName, flow]]));
    await worker.start();
  } catch (err) {
    await rt.close();
    throw err;
  }
  let resolveStopped!: () => void;
  const stopped = new Promise<void>((r) => (resolveStopped = r));
  let stopping: Promise<void> | undefined;
  const onSignal = (signal: string) => {
    process.stdout.write(`\n${signal}: finishing running flows of "${options.name}" and stopping...\n`);
    void handle.stop();
  };
  const sigint = () => onSignal('SIGINT');
  const sigterm = () => onSignal('SIGTERM');
  const handle: ServeHandle = {
    deploymentId,
    workPool: pool,
    stopped,
    stop() {
      stopping ??= (async () => {
        process.off('SIGINT', sigint);
        process.off('SIGTERM', sigterm);
        await worker.stop();
        await modules.runs.drain().catch(() => {});
        await rt.close();
        resolveStopped();
      })();
      return stopping;
    },
  };
  if (options.handleSignals ?? true) {
    process.on('SIGINT', sigint);
    process.on('SIGTERM', sigterm);
  }
  process.stdout.write(`Serving "${flow.flowName}" as deployment "${options.name}" (${deploymentId}) on pool "${pool}". Press Ctrl-C to stop.\n`);
  return handle;
};

(globalThis as { [SERVE_KEY]?: ServeImplementation })[SERVE_KEY] = serve;
