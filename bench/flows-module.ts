import { flow, task } from 'reflex/sdk';

/** Flows the flows benchmark runs on its worker. */
export const benchNoop = flow({ name: 'bench-noop' }, async (_params: Record<string, unknown> = {}) => null);

export const noopTask = task({ name: 'bench-noop-task' }, async (i: number) => i);

export const manyTasks = flow({ name: 'bench-many-tasks' }, async (params: { n: number; mode: 'sequential' | 'map' }) => {
  if (params.mode === 'map') return (await noopTask.map(Array.from({ length: params.n }, (_, i) => i))).length;
  let sum = 0;
  for (let i = 0; i < params.n; i++) sum += await noopTask(i);
  return sum;
});
