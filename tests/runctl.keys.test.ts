import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { decideKeySlot, renderRunKey, runControlProblems, type KeySlotDecision, type KeySlotRequest } from '../modules/runs/run-keys.ts';
import { uuidv7 } from 'uuidv7';
import { bullPriority } from '../modules/runs/run-queues.ts';
import { flowRunJobId } from '../schemas/jobs.ts';
import type { CollisionStrategy } from '../schemas/deployment.ts';
import { startTestEngine, type TestEngine } from './support/harness.ts';

/**
 * The concurrency-key decision (one Lua script in the real Redis) driven with a fake clock: each row is a
 * sequence of asks and releases and the outcome each ask must get.
 */

let t: TestEngine;
before(async () => {
  t = await startTestEngine({ services: [] });
});
after(async () => {
  await t?.cleanup();
});

type Step =
  | { ask: string; key?: string; at: number; order?: number; expect: KeySlotDecision['outcome']; burst?: boolean; holders?: string[] }
  | { release: string; key?: string };

interface Row {
  name: string;
  limit: number;
  burst?: number;
  cap?: number | null;
  collision?: CollisionStrategy;
  steps: Step[];
}

const T0 = 1_900_000_000_000;
const rows: Row[] = [
  {
    name: 'limit 1: the second run of a key waits, another key runs',
    limit: 1,
    steps: [
      { ask: 'a1', key: 'a', at: T0, expect: 'acquired' },
      { ask: 'a2', key: 'a', at: T0 + 1, expect: 'wait' },
      { ask: 'b1', key: 'b', at: T0 + 2, expect: 'acquired' },
    ],
  },
  {
    name: 'waiters take a freed slot in creation order, whoever asks first',
    limit: 1,
    steps: [
      { ask: 'a1', at: T0, order: 1, expect: 'acquired' },
      { ask: 'a2', at: T0 + 1, order: 2, expect: 'wait' },
      { ask: 'a3', at: T0 + 2, order: 3, expect: 'wait' },
      { release: 'a1' },
      { ask: 'a3', at: T0 + 3, order: 3, expect: 'wait' },
      { ask: 'a2', at: T0 + 4, order: 2, expect: 'acquired' },
    ],
  },
  {
    name: 'a waiter that stops asking leaves the line after its ttl',
    limit: 1,
    steps: [
      { ask: 'a1', at: T0, order: 1, expect: 'acquired' },
      { ask: 'a2', at: T0 + 1, order: 2, expect: 'wait' },
      { ask: 'a3', at: T0 + 2, order: 3, expect: 'wait' },
      { release: 'a1' },
      { ask: 'a3', at: T0 + 1 + 5001, order: 3, expect: 'acquired' },
    ],
  },
  {
    name: 'a holder whose lease expired frees its slot (exactly at expiry)',
    limit: 1,
    steps: [
      { ask: 'a1', at: T0, order: 1, expect: 'acquired' },
      { ask: 'a2', at: T0 + 29_999, order: 2, expect: 'wait' },
      { ask: 'a2', at: T0 + 30_000, order: 2, expect: 'acquired' },
    ],
  },
  {
    name: 'burst: above the floor while the cap has room, never above limit + burst or the cap',
    limit: 1,
    burst: 1,
    cap: 3,
    steps: [
      { ask: 'a1', key: 'a', at: T0, order: 1, expect: 'acquired', burst: false },
      { ask: 'a2', key: 'a', at: T0, order: 2, expect: 'acquired', burst: true },
      { ask: 'a3', key: 'a', at: T0, order: 3, expect: 'wait' },
      { ask: 'b1', key: 'b', at: T0, order: 4, expect: 'acquired', burst: false },
      { ask: 'c1', key: 'c', at: T0, order: 5, expect: 'wait' },
    ],
  },
  {
    name: 'burst stops while another key waits below its floor (the floor is guaranteed)',
    limit: 1,
    burst: 2,
    cap: 2,
    steps: [
      { ask: 'a1', key: 'a', at: T0, order: 1, expect: 'acquired' },
      { ask: 'a2', key: 'a', at: T0, order: 2, expect: 'acquired', burst: true },
      { ask: 'b1', key: 'b', at: T0 + 1, order: 3, expect: 'wait' },
      { release: 'a2', key: 'a' },
      { ask: 'a3', key: 'a', at: T0 + 2, order: 4, expect: 'wait' },
      { ask: 'b1', key: 'b', at: T0 + 3, order: 3, expect: 'acquired' },
    ],
  },
  {
    name: 'cancel-new: a run finding its key full is cancelled; another key is untouched',
    limit: 1,
    collision: 'cancel-new',
    steps: [
      { ask: 'a1', key: 'a', at: T0, order: 1, expect: 'acquired' },
      { ask: 'a2', key: 'a', at: T0 + 1, order: 2, expect: 'cancel-self' },
      { ask: 'b1', key: 'b', at: T0 + 2, order: 3, expect: 'acquired' },
    ],
  },
  {
    name: 'cancel-in-progress: the newest asks for the holders to be cancelled; an older waiter loses',
    limit: 1,
    collision: 'cancel-in-progress',
    steps: [
      { ask: 'a1', at: T0, order: 1, expect: 'acquired' },
      { ask: 'a2', at: T0 + 1, order: 2, expect: 'cancel-holders', holders: ['a1'] },
      { ask: 'a3', at: T0 + 2, order: 3, expect: 'cancel-holders', holders: ['a1'] },
      { ask: 'a2', at: T0 + 3, order: 2, expect: 'cancel-self' },
      { release: 'a1' },
      { ask: 'a3', at: T0 + 4, order: 3, expect: 'acquired' },
    ],
  },
  {
    name: 'a cap without keys room: the wide cap bounds all keys together',
    limit: 5,
    cap: 2,
    steps: [
      { ask: 'a1', key: 'a', at: T0, order: 1, expect: 'acquired' },
      { ask: 'b1', key: 'b', at: T0, order: 2, expect: 'acquired' },
      { ask: 'c1', key: 'c', at: T0, order: 3, expect: 'wait' },
    ],
  },
];

describe('concurrency key decisions (fake clock)', () => {
  for (const [i, row] of rows.entries()) {
    it(row.name, async () => {
      const deploymentId = `dep-${i}`;
      const base = { deploymentId, limit: row.limit, burst: row.burst ?? 0, cap: row.cap ?? null, collision: row.collision ?? 'enqueue', leaseMs: 30_000, waiterTtlMs: 5000 } as const;
      const { redis, names } = t.rt;
      for (const [s, step] of row.steps.entries()) {
        if ('release' in step) {
          const key = step.key ?? 'k';
          const h = (await import('../modules/runs/run-keys.ts')).runKeyHash(key);
          await redis.zrem(names.keys.runKeyHolders(deploymentId, h), step.release);
          await redis.zrem(names.keys.deploymentSlots(deploymentId), step.release);
          continue;
        }
        const req: KeySlotRequest = { ...base, runId: step.ask, key: step.key ?? 'k', order: step.order ?? s, now: step.at };
        const d = await decideKeySlot(redis, names, req);
        assert.equal(d.outcome, step.expect, `step ${s} (${step.ask}): ${JSON.stringify(d)}`);
        if (step.burst !== undefined && d.outcome === 'acquired') assert.equal(d.burst, step.burst, `step ${s} burst`);
        if (step.holders && d.outcome === 'cancel-holders') assert.deepEqual(d.holders, step.holders);
      }
    });
  }
});

describe('run control validation and mapping', () => {
  it('refuses a key template that does not parse, and a burst without a cap, at the field', () => {
    assert.deepEqual(runControlProblems({ concurrency: { key: '{{ parameters.x', limit: 1, burst: 0, collision: 'enqueue' }, concurrency_limit: null }).map((p) => p.path), ['concurrency.key']);
    assert.deepEqual(runControlProblems({ concurrency: { key: '{{ parameters.x }}', limit: 1, burst: 2, collision: 'enqueue' }, concurrency_limit: null }).map((p) => p.path), ['concurrency.burst']);
    assert.deepEqual(runControlProblems({ concurrency: { key: 'x', limit: 4, burst: 1, collision: 'enqueue' }, concurrency_limit: 3 }, '[0].').map((p) => p.path), ['[0].concurrency.limit']);
    assert.deepEqual(runControlProblems({ concurrency: { key: 'x', limit: 1, burst: 1, collision: 'enqueue' }, concurrency_limit: 3 }), []);
  });

  it('renders a key from the parameters; a hostile key is cut off with a 400', async () => {
    const c = { key: 'customer-{{ parameters.customer }}', limit: 1, burst: 0, collision: 'enqueue' } as const;
    const scope = { parameters: { customer: 'acme' }, tags: [], deployment: { id: 'd', name: 'n', flow: 'f' } };
    assert.equal(await renderRunKey(c, scope), 'customer-acme');
    await assert.rejects(renderRunKey({ ...c, key: '{% for i in (1..100000) %}xxxxxxxxxx{% endfor %}' }, scope), (err: Error & { issues?: Array<{ path: string }> }) => err.issues?.[0]?.path === 'concurrency.key');
  });

  it('maps Reflex priority (higher first) to BullMQ priority (lower first)', () => {
    const table: Array<[number | undefined, number]> = [[1000, 1], [1, 1000], [0, 1001], [undefined, 1001], [-1000, 2001], [5000, 1], [-5000, 2001]];
    for (const [reflex, bull] of table) assert.equal(bullPriority(reflex), bull, `priority ${reflex}`);
    assert.ok(bullPriority(10) < bullPriority(5), 'a higher Reflex priority is taken first');
  });
});

describe('run queues', () => {
  it('enqueues runs given together (one addBulk), each with its own priority and delay, an attempt once', async () => {
    const queues = t.modules.runs.queues;
    const pool = `batch-${Date.now()}`;
    const runs = [
      { id: uuidv7(), flow_name: 'f', work_pool: pool, priority: 10 },
      { id: uuidv7(), flow_name: 'f', work_pool: pool, priority: -3 },
      { id: uuidv7(), flow_name: 'f', work_pool: pool },
    ];
    const later = new Date(Date.now() + 60_000);
    const ids = await Promise.all([
      queues.enqueue(runs[0]),
      queues.enqueue(runs[1]),
      queues.enqueue(runs[2], { scheduledTime: later }),
      queues.enqueue(runs[0]), // the same attempt again: one job
      queues.enqueue(runs[0], { attempt: 2 }),
    ]);
    assert.deepEqual(ids, [flowRunJobId(runs[0].id, 1), flowRunJobId(runs[1].id, 1), flowRunJobId(runs[2].id, 1), flowRunJobId(runs[0].id, 1), flowRunJobId(runs[0].id, 2)]);
    const q = queues.queue(pool);
    const jobs = await Promise.all(ids.map((id) => q.getJob(id)));
    assert.deepEqual(jobs.map((j) => j?.opts.priority), [bullPriority(10), bullPriority(-3), bullPriority(0), bullPriority(10), bullPriority(10)]);
    assert.ok((jobs[2]?.opts.delay ?? 0) > 55_000, `the scheduled run waits (delay ${jobs[2]?.opts.delay})`);
    assert.equal(jobs[0]?.opts.delay, 0);
    const counts = await queues.counts(pool);
    assert.equal(counts.prioritized + counts.waiting, 3, JSON.stringify(counts));
    assert.equal(counts.delayed, 1);
    await q.obliterate({ force: true });
  });

  it('keeps BullMQ\'s scripts off the process\'s shared Redis connection, so its pipelines stay light', async () => {
    await t.modules.runs.queues.counts(`scripts-${Date.now()}`); // a queue exists, and has loaded its scripts
    // ioredis copies every script defined on a connection onto each pipeline made on it (infra/queues.ts).
    const defined = Object.keys((t.rt.redis as unknown as { scriptsSet: Record<string, unknown> }).scriptsSet);
    assert.deepEqual(defined.filter((name) => /^(addStandardJob|addPrioritizedJob|moveToActive|moveToFinished)/.test(name)), [], `BullMQ scripts on the shared connection: ${defined.join(', ')}`);
  });
});
