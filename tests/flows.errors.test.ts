import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { flow, NonRetriableError, task } from '../sdk/index.ts';
import type { FlowRun, State, TaskRun } from '../schemas/flow-run.ts';
import { startTestEngine, type TestEngine } from './support/harness.ts';

/** A run's error is stored as a structured object (name, message, code, stack), shown as such by the API. */

type Detail = FlowRun & { state_history: State[]; task_runs: TaskRun[] };

class InvoiceError extends Error {
  readonly code = 'INVOICE_MISSING';
}

const brokenTask = task({ name: 'broken-step' }, async () => {
  throw new InvoiceError('invoice 42 is missing \u0000 (and this message holds a NUL)');
});
const failing = flow({ name: 'failing-with-error', retries: 1, retryDelaySeconds: 0 }, async () => {
  await brokenTask();
});
const refusing = flow({ name: 'refusing' }, async () => {
  throw new NonRetriableError('no point');
});

describe('structured run errors', () => {
  let t: TestEngine;
  before(async () => {
    // The worker binds the SDK to this engine, so flows called here record into its namespace.
    t = await startTestEngine({ services: ['api', 'worker'], config: { flowsModule: 'tests/support/test-flows.ts' } });
  });
  after(async () => {
    await t?.cleanup();
  });

  const detailOf = async (flowName: string): Promise<Detail> => {
    const list = await t.api<{ items: FlowRun[] }>('GET', `/api/flow-runs?flow_name=${flowName}`);
    assert.equal(list.body.items.length, 1);
    return (await t.api<Detail>('GET', `/api/flow-runs/${list.body.items[0].id}`)).body;
  };

  it('stores the failed run and task with name, message, code and stack', async () => {
    await assert.rejects(failing(), InvoiceError);
    const run = await detailOf('failing-with-error');
    assert.equal(run.state.type, 'FAILED');
    const err = run.state.error;
    assert.ok(err, 'the state carries its error');
    assert.equal(err.name, 'Error');
    assert.match(err.message, /invoice 42 is missing \uFFFD/, 'a NUL is stored as U+FFFD');
    assert.equal(err.code, 'INVOICE_MISSING');
    assert.match(err.stack ?? '', /flows\.errors\.test\.ts/);
    const retried = run.state_history.find((s) => s.name === 'AwaitingRetry');
    assert.equal(retried?.error?.code, 'INVOICE_MISSING', 'the retried attempt keeps its error in the history');
    assert.equal(run.state_history.find((s) => s.type === 'RUNNING')?.error ?? null, null);
    const taskRun = run.task_runs.find((tr) => tr.task_name === 'broken-step' && tr.state.type === 'FAILED');
    assert.equal(taskRun?.state.error?.code, 'INVOICE_MISSING');
  });

  it("uses Reflex's own codes for the SDK's errors", async () => {
    await assert.rejects(refusing(), NonRetriableError);
    const run = await detailOf('refusing');
    assert.deepEqual([run.state.error?.name, run.state.error?.code], ['NonRetriableError', 'non_retriable']);
  });
});
