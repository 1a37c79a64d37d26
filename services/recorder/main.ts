import type { Runtime, Service } from '../../infra/runtime.ts';
import { Recorder } from './recorder.ts';

export function createRecorderService(rt: Runtime): Service {
  return new Recorder(rt);
}
