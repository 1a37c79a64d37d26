import type { Runtime } from '../../core/runtime.ts';
import type { CreateTaskRunInput } from '../orchestration/contract.ts';
import { orchestration } from '../orchestration/store.ts';
import { decideTransition } from '../orchestration/states.ts';
import type { TaskRunRecord } from '../orchestration/rows.ts';

/**
 * Creates a task run whose id the SDK chose, through the orchestration state writer (same batch, same
 * event as `Orchestration.createTaskRun`). Why: the task body needs its run id at once (logs, related
 * resources of emitted events, subflow parents), and waiting for a commit before every task would cost a
 * batch round trip per task. With the id known up front the task's states are proposed without waiting,
 * in order, and the flow run waits for all of them before it finishes.
 *
 * Kept here, apart from the store, until the contract's CreateTaskRunInput accepts an `id`.
 */
export function createTaskRunWithId(rt: Runtime, id: string, input: CreateTaskRunInput): Promise<TaskRunRecord> {
  const now = new Date();
  const initial = decideTransition('task', { state: null, run_count: 0, start_time: null, end_time: null, total_run_time_seconds: 0 }, { type: 'PENDING' }, { now, force: true });
  if (!initial.accepted) return Promise.reject(new Error(initial.reason));
  return orchestration(rt).writer.createTaskRun({
    id,
    flow_run_id: input.flow_run_id,
    task_name: input.task_name,
    dynamic_key: input.dynamic_key,
    cache_key: input.cache_key ?? null,
    cache_expiration: input.cache_expiration ?? null,
    parameters: input.parameters ?? {},
    tags: input.tags ?? [],
    state: initial.state,
    run_count: 0,
    start_time: null,
    end_time: null,
    created: now.toISOString(),
    result: null,
    flow: null,
  });
}
