import { flow } from 'reflex/sdk';

/**
 * The flows module of the fault suite's worker (`reflex worker start --flows faults/flows.ts`). The flow
 * does nothing but finish: what the suite checks is that every run it is handed reaches a final state.
 * One retry, so a run CRASHED by a killed worker is run again by the crash sweeper.
 */
export const faultNoop = flow({ name: 'fault-noop', retries: 1 }, async (params: { n?: number } = {}) => params.n ?? null);
