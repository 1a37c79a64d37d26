import type { Runtime } from '../../infra/runtime.ts';
import type { Modules } from '../modules.ts';
import type { Service } from '../service.ts';
import { Recorder } from './recorder.ts';

/** Stores every event of the stream in PostgreSQL. Any number of replicas share the durable consumer. */
export function createRecorderService(rt: Runtime, _modules: Modules): Service {
  return new Recorder({ bus: rt.bus, pg: rt.pg, log: rt.log, durable: rt.names.consumers.recorder, schema: rt.names.pgSchema, metrics: rt.metrics });
}
