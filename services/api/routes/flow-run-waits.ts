import { z } from 'zod';
import { ConflictError, NotFoundError } from '../../../core/errors.ts';
import { StateNames, validateParameters } from '../../../modules/runs/index.ts';
import { Waits } from '../../../modules/waits/index.ts';
import { FlowRunSchema } from '../../../schemas/flow-run.ts';
import { FlowRunWaitSchema } from '../../../schemas/flow-run-wait.ts';
import type { RouteModule } from '../route-module.ts';

const IdParams = z.object({ id: z.string().min(1).max(100) });
const ResumeBody = z
  .object({ input: z.record(z.string(), z.unknown()).optional().describe('The input the paused flow asked for; checked against its JSON Schema.') })
  .strict();
const tags = ['flow-runs'];

/** Resuming paused and suspended runs (flow authors, issue 13). */
export const flowRunWaitRoutes: RouteModule = (app, { rt, modules }) => {
  const waits = new Waits(rt.pg);
  const { store, queues } = modules.runs;

  app.get(
    '/api/flow-runs/:id/pause',
    { schema: { operationId: 'getFlowRunPause', tags, summary: 'What a paused run waits for (its input JSON Schema and timeout); 404 when it is not paused', params: IdParams, response: { 200: FlowRunWaitSchema } } },
    async (req) => {
      const wait = await openWait(waits, req.params.id);
      if (!wait) throw new NotFoundError('pause of flow run', req.params.id);
      const { result: _r, ...view } = wait;
      return view;
    },
  );

  app.post(
    '/api/flow-runs/:id/resume',
    {
      schema: {
        operationId: 'resumeFlowRun',
        tags,
        summary: 'Resume a paused or suspended run with input matching its schema (400 with field paths; 409 when it is not paused)',
        params: IdParams,
        body: ResumeBody,
        response: { 200: FlowRunSchema },
      },
    },
    async (req) => {
      const id = req.params.id;
      const run = await store.getFlowRun(id).catch(() => null);
      if (!run) throw new NotFoundError('flow run', id);
      const wait = await openWait(waits, id);
      if (!wait || run.state.type !== 'PAUSED') throw new ConflictError(`flow run ${id} is not paused (it is ${run.state.type})`, 'transition_refused');
      const input = req.body.input ?? {};
      const schema = wait.spec.input_schema as Record<string, unknown> | null | undefined;
      validateParameters(schema ?? null, input, 'input');
      // The one UPDATE that decides a race with the timeout (or a second resume).
      const resolved = await waits.resolve(id, wait.wait_key, 'resumed', input);
      if (!resolved) throw new ConflictError(`flow run ${id} was already resumed or timed out`, 'transition_refused');
      if (wait.kind === 'pause') {
        // The flow is waiting in its process; RUNNING now also lets the crash sweeper notice if that process is gone.
        const r = await store.setFlowRunState(id, { type: 'RUNNING', name: StateNames.Resumed, message: 'resumed' });
        if (!r.accepted) throw new ConflictError(r.reason ?? 'resume refused', 'transition_refused');
        return r.run;
      }
      const scheduledTime = new Date().toISOString();
      const r = await store.setFlowRunState(id, { type: 'SCHEDULED', name: StateNames.Resumed, scheduled_time: scheduledTime, message: 'resumed; starting again from the top' });
      if (!r.accepted) throw new ConflictError(r.reason ?? 'resume refused', 'transition_refused');
      await queues.enqueue(r.run, { attempt: r.run.run_count + 1, scheduledTime });
      return r.run;
    },
  );
};

function openWait(waits: Waits, id: string) {
  return /^[0-9a-f-]{36}$/i.test(id) ? waits.openPause(id) : Promise.resolve(null);
}
