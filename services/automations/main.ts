import type { Runtime } from '../../infra/runtime.ts';
import type { Modules } from '../modules.ts';
import type { Service } from '../service.ts';
import { AutomationsService } from './service.ts';

/** The automations service: trigger evaluation on the event stream, proactive timers, action execution. */
export function createAutomationsService(rt: Runtime, modules: Modules): Service {
  return new AutomationsService(rt, modules);
}
