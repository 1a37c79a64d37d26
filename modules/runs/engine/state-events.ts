import { systemEvent } from '../../../core/events.ts';
import type { RelatedResource, ReflexEvent } from '../../../schemas/event.ts';
import type { State } from '../../../schemas/flow-run.ts';
import type { FlowRunRecord, TaskRunRecord } from '../rows.ts';
import { isTerminal, stateEventName } from './states.ts';

/** Results bigger than this are left out of state events (they stay readable on the run). */
const MAX_EVENT_RESULT_BYTES = 8 * 1024;

export const resourceIds = {
  flowRun: (id: string) => `reflex.flow-run.${id}`,
  taskRun: (id: string) => `reflex.task-run.${id}`,
  flow: (name: string) => `reflex.flow.${name}`,
  deployment: (id: string) => `reflex.deployment.${id}`,
  workPool: (name: string) => `reflex.work-pool.${name}`,
  tag: (tag: string) => `reflex.tag.${tag}`,
};

function flowRelated(
  flowName: string,
  deployment: { id: string | null; name: string | null },
  workPool: string | null,
  tags: string[],
): RelatedResource[] {
  const related: RelatedResource[] = [
    { 'reflex.resource.id': resourceIds.flow(flowName), 'reflex.resource.role': 'flow', 'reflex.resource.name': flowName },
  ];
  if (deployment.id) {
    const r: RelatedResource = { 'reflex.resource.id': resourceIds.deployment(deployment.id), 'reflex.resource.role': 'deployment' };
    if (deployment.name) r['reflex.resource.name'] = deployment.name;
    related.push(r);
  }
  if (workPool) {
    related.push({ 'reflex.resource.id': resourceIds.workPool(workPool), 'reflex.resource.role': 'work-pool', 'reflex.resource.name': workPool });
  }
  for (const tag of tags) related.push({ 'reflex.resource.id': resourceIds.tag(tag), 'reflex.resource.role': 'tag' });
  return related;
}

function resultForEvent(state: State, result: unknown): { result?: unknown } {
  if (!isTerminal(state.type) || result == null) return {};
  const size = Buffer.byteLength(JSON.stringify(result));
  return size <= MAX_EVENT_RESULT_BYTES ? { result } : {};
}

/** The event for a flow-run state change; its id is the state's id, so a republish is a duplicate. */
export function flowRunStateEvent(stateId: string, run: FlowRunRecord, previous: State | null, details?: Record<string, unknown>): ReflexEvent {
  return systemEvent(
    stateEventName('flow', run.state),
    {
      'reflex.resource.id': resourceIds.flowRun(run.id),
      'reflex.resource.name': run.name,
      'reflex.state-type': run.state.type,
      'reflex.state-name': run.state.name,
    },
    {
      id: stateId,
      occurred: run.state.timestamp,
      related: flowRelated(run.flow_name, { id: run.deployment_id, name: run.deployment_name }, run.work_pool, run.tags),
      payload: {
        state: run.state,
        previous_state: previous ? { type: previous.type, name: previous.name } : null,
        id: run.id,
        name: run.name,
        flow_name: run.flow_name,
        deployment_id: run.deployment_id,
        deployment_name: run.deployment_name,
        work_pool: run.work_pool,
        parameters: run.parameters,
        tags: run.tags,
        run_count: run.run_count,
        parent_flow_run_id: run.parent_flow_run_id,
        expected_start_time: run.expected_start_time,
        start_time: run.start_time,
        end_time: run.end_time,
        ...resultForEvent(run.state, run.result),
        ...(details ? { details } : {}),
      },
    },
  );
}

export function taskRunStateEvent(stateId: string, run: TaskRunRecord, previous: State | null): ReflexEvent {
  const related: RelatedResource[] = [];
  if (run.flow_run_id) {
    const fr: RelatedResource = { 'reflex.resource.id': resourceIds.flowRun(run.flow_run_id), 'reflex.resource.role': 'flow-run' };
    if (run.flow) fr['reflex.resource.name'] = run.flow.name;
    related.push(fr);
  }
  if (run.flow) {
    related.push(...flowRelated(run.flow.flow_name, { id: run.flow.deployment_id, name: run.flow.deployment_name }, run.flow.work_pool, []));
  }
  for (const tag of run.tags) related.push({ 'reflex.resource.id': resourceIds.tag(tag), 'reflex.resource.role': 'tag' });
  return systemEvent(
    stateEventName('task', run.state),
    {
      'reflex.resource.id': resourceIds.taskRun(run.id),
      'reflex.resource.name': run.dynamic_key || run.task_name,
      'reflex.state-type': run.state.type,
      'reflex.state-name': run.state.name,
    },
    {
      id: stateId,
      occurred: run.state.timestamp,
      related,
      payload: {
        state: run.state,
        previous_state: previous ? { type: previous.type, name: previous.name } : null,
        id: run.id,
        task_name: run.task_name,
        flow_run_id: run.flow_run_id,
        tags: run.tags,
        run_count: run.run_count,
        cache_key: run.cache_key,
        ...resultForEvent(run.state, run.result),
      },
    },
  );
}
