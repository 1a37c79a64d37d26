import type { Runtime, Service } from '../../infra/runtime.ts';
import { workerOptions, type WorkerOptions } from './config.ts';
import { loadFlowsModule } from './flows-module.ts';
import { FlowWorker } from './worker.ts';

/** Runs flow runs of a work pool (`default` inside `reflex start`) from the flows module REFLEX_FLOWS. */
export async function createWorkerService(rt: Runtime, overrides: Partial<WorkerOptions> = {}): Promise<FlowWorker> {
  const options = workerOptions(rt.config, overrides);
  const flows = await loadFlowsModule(options.flowsModule);
  return new FlowWorker(rt, options, flows);
}

export function createDefaultWorkerService(rt: Runtime): Promise<Service> {
  return createWorkerService(rt);
}
