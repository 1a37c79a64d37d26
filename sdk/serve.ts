import { SdkUsageError } from './errors.ts';

/**
 * `flow.serve()` (Prefect's flow.serve): creates or updates a deployment of the flow and serves it from
 * the calling process. The SDK never loads a service (the worker binds the SDK, not the other way round),
 * so the server is the worker's `reflex/serve` entry, which registers itself here when imported:
 *
 *   import 'reflex/serve';
 *   await etl.serve({ name: 'etl-nightly', schedules: [{ cron: '0 2 * * *' }], concurrency: 2 });
 */

export interface ServeOptions {
  /** The deployment's name (created, or updated when it exists). */
  name: string;
  /** Deployment schedules, as in a deployment file (`{ cron, timezone }`, `{ interval_seconds }`). */
  schedules?: readonly Record<string, unknown>[];
  /** Default parameters of its runs. */
  parameters?: Record<string, unknown>;
  /** Flow runs executed at once by this process (default 1). */
  concurrency?: number;
  /** Work pool of the deployment (default `serve-<name>`: a pool only this process serves). */
  workPool?: string;
  /** Stop on SIGINT / SIGTERM (default true): drain running flows, then resolve `stopped`. */
  handleSignals?: boolean;
}

export interface ServeHandle {
  readonly deploymentId: string;
  readonly workPool: string;
  /** Stops taking runs, lets running ones finish (up to the worker's grace), closes the connections. */
  stop(): Promise<void>;
  /** Resolves once the process stopped serving (after stop() or a signal). */
  readonly stopped: Promise<void>;
}

export type ServeImplementation = (flow: unknown, options: ServeOptions) => Promise<ServeHandle>;

export const SERVE_KEY = Symbol.for('reflex.serve');

export function serveFlow(flow: unknown, options: ServeOptions): Promise<ServeHandle> {
  const impl = (globalThis as { [SERVE_KEY]?: ServeImplementation })[SERVE_KEY];
  if (!impl) throw new SdkUsageError("serve() needs the worker: add `import 'reflex/serve';` to the script that calls it");
  return impl(flow, options);
}
