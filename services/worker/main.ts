import type { Runtime } from '../../infra/runtime.ts';
import type { Modules } from '../modules.ts';
import type { Service } from '../service.ts';
import { workerOptions, type WorkerOptions } from './config.ts';
import { loadFlowsModule } from './flows-module.ts';
import { FlowWorker } from './worker.ts';

/** Runs flow runs of a work pool (`default` inside `reflex start`) from the flows module REFLEX_FLOWS. */
export async function createWorkerService(rt: Runtime, modules: Modules, overrides: Partial<WorkerOptions> = {}): Promise<FlowWorker> {
  const options = workerOptions(rt.config, overrides);
  const flows = await loadFlowsModule(options.flowsModule);
  return new FlowWorker(rt, modules.runs, options, flows);
}

export function createDefaultWorkerService(rt: Runtime, modules: Modules): Promise<Service> {
  return createWorkerService(rt, modules);
}
