import type { Runtime } from '../../infra/runtime.ts';
import type { Service } from '../service.ts';
import type { Modules } from '../modules.ts';
import { Scheduler } from './scheduler.ts';

export interface SchedulerService extends Service {
  readonly scheduler: Scheduler;
}

/** Creates scheduled runs ahead of time and marks Late runs. */
export function createSchedulerService(rt: Runtime, modules: Modules): SchedulerService {
  const log = rt.log.child({ service: 'scheduler' });
  const c = rt.config;
  const scheduler = new Scheduler(rt.pg, modules.runs, log, {
    loopMs: c.schedulerLoopSeconds * 1000,
    horizonMs: c.scheduleHorizonSeconds * 1000,
    maxRuns: c.scheduleMaxRuns,
    lateAfterMs: c.lateAfterSeconds * 1000,
  });
  return {
    name: 'scheduler',
    scheduler,
    async start() {
      scheduler.start();
    },
    async stop() {
      await scheduler.stop();
      await modules.runs.drain();
    },
    describe: () =>
      `scheduling runs ${c.scheduleHorizonSeconds}s ahead every ${c.schedulerLoopSeconds}s, Late after ${c.lateAfterSeconds}s`,
  };
}
