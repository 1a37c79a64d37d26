import type { Runtime, Service } from '../../infra/runtime.ts';
import { closeWorkPoolQueues } from '../../modules/runs/run-queues.ts';
import { orchestration } from '../../modules/runs/run-store.ts';
import { Scheduler } from './scheduler.ts';

export interface SchedulerService extends Service {
  readonly scheduler: Scheduler;
}

/** Creates scheduled runs ahead of time and marks Late runs. */
export function createSchedulerService(rt: Runtime): SchedulerService {
  const log = rt.log.child({ service: 'scheduler' });
  const c = rt.config;
  const scheduler = new Scheduler(rt, log, {
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
      await orchestration(rt).drain();
      await closeWorkPoolQueues(rt);
    },
    describe: () =>
      `scheduling runs ${c.scheduleHorizonSeconds}s ahead every ${c.schedulerLoopSeconds}s, Late after ${c.lateAfterSeconds}s`,
  };
}
