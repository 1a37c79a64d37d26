import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { State, StateInput, StateType } from '../schemas/flow-run.ts';
import { decideTransition, type RunTiming } from '../modules/runs/engine/states.ts';

const now = new Date('2025-03-01T12:00:00.000Z');

function timing(type: StateType, name?: string, runCount = 0): RunTiming {
  const state: State = { type, name: name ?? type.charAt(0) + type.slice(1).toLowerCase(), timestamp: '2025-03-01T11:59:00.000Z', message: null, scheduled_time: null };
  return { state, run_count: runCount, start_time: null, end_time: null, total_run_time_seconds: 0 };
}

// [from type, from name, proposed, accepted?, reason fragment]
const TABLE: Array<[StateType, string | undefined, StateInput, boolean, string?]> = [
  ['SCHEDULED', undefined, { type: 'PENDING' }, true],
  ['SCHEDULED', undefined, { type: 'SCHEDULED', name: 'Late' }, true],
  ['SCHEDULED', 'Late', { type: 'SCHEDULED', name: 'Late' }, false, 'already Late'],
  ['SCHEDULED', 'Late', { type: 'PENDING' }, true],
  ['SCHEDULED', undefined, { type: 'CANCELLED' }, true],
  ['SCHEDULED', undefined, { type: 'COMPLETED' }, false, 'allowed from SCHEDULED'],
  ['PENDING', undefined, { type: 'RUNNING' }, true],
  ['PENDING', undefined, { type: 'PENDING' }, false, 'the run is already PENDING'],
  ['PENDING', undefined, { type: 'SCHEDULED', name: 'Late' }, false, 'only a SCHEDULED run can be Late'],
  ['RUNNING', undefined, { type: 'COMPLETED' }, true],
  ['RUNNING', undefined, { type: 'FAILED' }, true],
  ['RUNNING', undefined, { type: 'CANCELLING' }, true],
  ['RUNNING', undefined, { type: 'RUNNING' }, false, 'already RUNNING'],
  ['RUNNING', undefined, { type: 'SCHEDULED', name: 'AwaitingRetry' }, true],
  ['RUNNING', undefined, { type: 'SCHEDULED' }, false, 'AwaitingRetry'],
  ['RUNNING', undefined, { type: 'PENDING' }, false, 'allowed from RUNNING'],
  ['CANCELLING', undefined, { type: 'CANCELLED' }, true],
  ['CANCELLING', undefined, { type: 'COMPLETED' }, true],
  ['CANCELLING', undefined, { type: 'RUNNING' }, false],
  ['PAUSED', undefined, { type: 'RUNNING' }, true],
  ['FAILED', undefined, { type: 'SCHEDULED', name: 'AwaitingRetry' }, true],
  ['CRASHED', undefined, { type: 'SCHEDULED', name: 'AwaitingRetry' }, true],
  ['FAILED', undefined, { type: 'RUNNING' }, false, 'the run is finished'],
  ['COMPLETED', undefined, { type: 'RUNNING' }, false, 'cannot move flow run from COMPLETED to RUNNING: the run is finished'],
  ['COMPLETED', undefined, { type: 'SCHEDULED', name: 'AwaitingRetry' }, false, 'the run is finished'],
  ['CANCELLED', undefined, { type: 'PENDING' }, false, 'the run is finished'],
  ['SCHEDULED', undefined, { type: 'RUNNING', name: 'Late' }, false, 'only valid for type SCHEDULED'],
  ['SCHEDULED', undefined, { type: 'PENDING', name: 'bad name!' }, false, 'invalid state name'],
];

describe('flow-run state transitions', () => {
  for (const [fromType, fromName, proposed, ok, reason] of TABLE) {
    it(`${fromType}${fromName ? '/' + fromName : ''} -> ${proposed.type}${proposed.name ? '/' + proposed.name : ''}: ${ok ? 'accepted' : 'refused'}`, () => {
      const d = decideTransition('flow', timing(fromType, fromName), proposed, { now });
      assert.equal(d.accepted, ok, d.accepted ? 'accepted' : d.reason);
      if (!d.accepted && reason) assert.ok(d.reason.includes(reason), d.reason);
    });
  }

  it('force accepts what the rules refuse', () => {
    const d = decideTransition('flow', timing('COMPLETED'), { type: 'RUNNING' }, { now, force: true });
    assert.equal(d.accepted, true);
  });

  it('names RUNNING "Retrying" when the run ran before, and counts runs', () => {
    const first = decideTransition('flow', timing('PENDING'), { type: 'RUNNING' }, { now });
    assert.ok(first.accepted);
    assert.equal(first.state.name, 'Running');
    assert.equal(first.timing.run_count, 1);
    assert.equal(first.timing.start_time, now.toISOString());
    const retry = decideTransition('flow', timing('SCHEDULED', 'AwaitingRetry', 1), { type: 'RUNNING' }, { now });
    assert.ok(retry.accepted);
    assert.equal(retry.state.name, 'Retrying');
    assert.equal(retry.timing.run_count, 2);
  });

  it('adds running time when leaving RUNNING and sets end_time on a terminal state', () => {
    const d = decideTransition('flow', timing('RUNNING', 'Running', 1), { type: 'COMPLETED' }, { now });
    assert.ok(d.accepted);
    assert.equal(d.timing.total_run_time_seconds, 60);
    assert.equal(d.timing.end_time, now.toISOString());
  });

  it('gives SCHEDULED states a scheduled_time (now by default)', () => {
    const d = decideTransition('flow', timing('RUNNING'), { type: 'SCHEDULED', name: 'AwaitingRetry', scheduled_time: '2025-03-01T12:00:10Z' }, { now });
    assert.ok(d.accepted);
    assert.equal(d.state.scheduled_time, '2025-03-01T12:00:10.000Z');
  });

  it('says "task run" in task-run refusals', () => {
    const d = decideTransition('task', timing('COMPLETED'), { type: 'RUNNING' }, { now });
    assert.equal(d.accepted, false);
    assert.ok(!d.accepted && d.reason.startsWith('cannot move task run from COMPLETED to RUNNING'));
  });
});
