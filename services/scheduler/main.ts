import type { Runtime } from '../../infra/runtime.ts';
import type { Service } from '../service.ts';
import type { Modules } from '../modules.ts';
import { Scheduler } from './scheduler.ts';
import { SlaMonitor } from './slas.ts';

export interface SchedulerService extends Service {
  readonly scheduler: Scheduler;
  readonly slas: SlaMonitor;
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
  const slas = new SlaMonitor({ pg: rt.pg, redis: rt.redis, names: rt.names, bus: rt.bus, log });
  // SLAs are evaluated on a loop of their own: a slow schedule pass never delays a violation (issue 15).
  let slaTimer: NodeJS.Timeout | undefined;
  let slaPass: Promise<unknown> | undefined;
  let stopped = false;
  const nextSla = () => {
    if (stopped || c.slaLoopSeconds <= 0) return;
    slaTimer = setTimeout(() => {
      slaPass = slas
        .tick()
        .catch((err: unknown) => log.error({ err }, 'SLA pass failed'))
        .finally(() => {
          slaPass = undefined;
          nextSla();
        });
    }, c.slaLoopSeconds * 1000);
  };
  return {
    name: 'scheduler',
    scheduler,
    slas,
    async start() {
      scheduler.start();
      stopped = false;
      nextSla();
    },
    async stop() {
      stopped = true;
      clearTimeout(slaTimer);
      await slaPass;
      await scheduler.stop();
      await modules.runs.drain();
    },
    describe: () =>
      `scheduling runs ${c.scheduleHorizonSeconds}s ahead every ${c.schedulerLoopSeconds}s, Late after ${c.lateAfterSeconds}s, SLAs every ${c.slaLoopSeconds}s`,
  };
}
