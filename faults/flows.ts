import { setTimeout as sleep } from 'node:timers/promises';
import { flow } from 'reflex/sdk';

/** How long a run works: long enough that a killed worker is caught with runs in hand. */
const WORK_MS = 250;

/**
 * The flows module of the fault suite's worker (`reflex worker start --flows faults/flows.ts`). The flow
 * only takes a moment: what the suite checks is that every run it is handed reaches a final state. One
 * retry, so a run CRASHED by a killed worker is run again by the crash sweeper.
 */
export const faultNoop = flow({ name: 'fault-noop', retries: 1 }, async (params: { n?: number } = {}) => {
  await sleep(WORK_MS);
  return params.n ?? null;
});
