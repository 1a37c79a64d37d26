import type { Runtime, Service } from '../../infra/runtime.ts';
import { AutomationsService } from './service.ts';

/** The automations service: trigger evaluation on the event stream, proactive timers, action execution. */
export function createAutomationsService(rt: Runtime): Service {
  return new AutomationsService(rt);
}
