import { ConflictError, NotFoundError } from '../../core/errors.ts';
import type { FlowRun, StateInput } from '../../schemas/flow-run.ts';
import type { Cancellation } from './cancellation.ts';
import { publicFlowRun, type FlowRunRecord } from './rows.ts';
import type { RunQueues } from './run-queues.ts';
import type { RunStore } from './run-store.ts';

/**
 * Operator actions on flow runs, shared by the API and the flow-run commands of automations. Both go
 * through the state writer, so the transition rules apply and every change is an event.
 */
export class FlowRunOps {
  constructor(
    private readonly store: RunStore,
    private readonly cancellation: Cancellation,
    private readonly queues: RunQueues,
  ) {}

  /**
   * Cancels a run: a run a worker may be executing (RUNNING, CANCELLING) moves to CANCELLING and its
   * worker is signalled (it aborts the flow, then proposes CANCELLED); a run no worker executes yet
   * (SCHEDULED, PENDING, PAUSED) moves straight to CANCELLED and its queued job is removed. A finished
   * run: 409.
   */
  async cancel(id: string, message?: string): Promise<FlowRun> {
    // Two tries: the run may change state between our read and the write (validated inside the batch).
    for (let attempt = 0; attempt < 2; attempt++) {
      const run = await this.store.getFlowRunRecord(id);
      if (!run) throw new NotFoundError('flow run', id);
      if (run.state.type === 'CANCELLING') {
        await this.cancellation.request(id);
        return publicFlowRun(run);
      }
      const running = run.state.type === 'RUNNING';
      const target: StateInput = { type: running ? 'CANCELLING' : 'CANCELLED', message: message ?? 'cancelled by request' };
      const result = await this.store.writer.setFlowRunState(id, target);
      if (result.accepted) {
        if (running) await this.cancellation.request(id);
        else await this.queues.remove(run).catch(() => {});
        return publicFlowRun(result.run);
      }
      if (result.run.state.type === run.state.type) throw new ConflictError(result.reason ?? 'cannot cancel the run', 'transition_refused');
    }
    throw new ConflictError(`flow run ${id} changed state while it was being cancelled; try again`);
  }

  /**
   * Proposes a state (API set-state, change-flow-run-state command). Refused -> 409 with the reason.
   * Moving a run back to SCHEDULED enqueues its next attempt, so a forced re-run actually runs; moving it
   * to CANCELLING signals its worker.
   */
  async changeState(id: string, state: StateInput, options: { force?: boolean } = {}): Promise<FlowRun> {
    const result = await this.store.writer.setFlowRunState(id, state, { force: options.force });
    if (!result.accepted) throw new ConflictError(result.reason ?? 'transition refused', 'transition_refused');
    await this.afterStateChange(result.run);
    return publicFlowRun(result.run);
  }

  private async afterStateChange(run: FlowRunRecord): Promise<void> {
    if (run.state.type === 'CANCELLING') await this.cancellation.request(run.id);
    if (run.state.type === 'SCHEDULED' && run.work_pool) {
      await this.queues.enqueue(run, { attempt: run.run_count + 1, scheduledTime: run.state.scheduled_time });
    }
  }
}
