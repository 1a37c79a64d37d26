import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { flow, SdkUsageError, task } from '../sdk/index.ts';
import { hashInputs, isTruncated, parametersOf, summarizeResult } from '../sdk/results.ts';
import { canRetry, retryDelayMs } from '../sdk/retry.ts';

describe('retry delays', () => {
  it('uses a fixed delay, or a list whose last entry repeats', () => {
    assert.equal(retryDelayMs({ retryDelaySeconds: 2, retryJitterFactor: undefined }, 1), 2000);
    const backoff = { retryDelaySeconds: [1, 4, 10], retryJitterFactor: undefined };
    assert.deepEqual([1, 2, 3, 4, 7].map((r) => retryDelayMs(backoff, r)), [1000, 4000, 10_000, 10_000, 10_000]);
    assert.equal(retryDelayMs({ retryDelaySeconds: [], retryJitterFactor: undefined }, 1), 0);
  });

  it('keeps jittered delays within delay × (1 ± factor), reaching both ends', () => {
    const policy = { retryDelaySeconds: 10, retryJitterFactor: 0.5 };
    assert.equal(retryDelayMs(policy, 1, () => 0), 5000);
    assert.equal(retryDelayMs(policy, 1, () => 0.999999), 15_000);
    assert.equal(retryDelayMs(policy, 1, () => 0.5), 10_000);
    let min = Infinity;
    let max = -Infinity;
    for (let i = 0; i < 2000; i++) {
      const d = retryDelayMs(policy, 1);
      min = Math.min(min, d);
      max = Math.max(max, d);
    }
    assert.ok(min >= 5000 && max <= 15_000, `${min}..${max}`);
    assert.ok(min < 6000 && max > 14_000, `jitter spreads the delays: ${min}..${max}`);
  });

  it('never goes below zero with a factor above 1', () => {
    assert.equal(retryDelayMs({ retryDelaySeconds: 1, retryJitterFactor: 3 }, 1, () => 0), 0);
  });

  it('allows exactly `retries` retries', () => {
    assert.deepEqual([1, 2, 3].map((a) => canRetry({ retries: 2 }, a)), [true, true, false]);
    assert.equal(canRetry({ retries: 0 }, 1), false);
  });
});

describe('results and parameters', () => {
  it('stores small results as JSON and marks big ones truncated', () => {
    assert.deepEqual(summarizeResult({ a: 1n, d: new Date('2024-01-01T00:00:00Z'), u: undefined }), { a: '1', d: '2024-01-01T00:00:00.000Z' });
    assert.equal(summarizeResult(undefined), null);
    const big = summarizeResult('x'.repeat(20_000));
    assert.ok(isTruncated(big));
    assert.equal((big as { bytes: number }).bytes, 20_002);
    const cyclic: Record<string, unknown> = { n: 1 };
    cyclic.self = cyclic;
    assert.deepEqual(summarizeResult(cyclic), { n: 1, self: '[Circular]' });
  });

  it('hashes inputs independently of key order', () => {
    assert.equal(hashInputs([{ a: 1, b: 2 }]), hashInputs([{ b: 2, a: 1 }]));
    assert.notEqual(hashInputs([1]), hashInputs([2]));
  });

  it('records one object argument as the parameters, positional ones under args', () => {
    assert.deepEqual(parametersOf([{ source: 'x' }]), { source: 'x' });
    assert.deepEqual(parametersOf([1, 'a']), { args: [1, 'a'] });
    assert.deepEqual(parametersOf([]), {});
  });
});

describe('declaration errors', () => {
  it('say how to fix the call', () => {
    assert.throws(() => flow({}, async () => 1), (e: Error) => e instanceof SdkUsageError && /give the flow a name/.test(e.message));
    assert.throws(() => flow({ name: 'bad name' }, async () => 1), /name must be letters/);
    assert.throws(() => task({ name: 't', retries: -1 }, async () => 1), /retries must be a whole number/);
    assert.throws(() => task({ name: 't', retryDelaySeconds: [1, -2] }, async () => 1), /retryDelaySeconds/);
    assert.throws(() => task({ name: 't', timeoutSeconds: 0 }, async () => 1), /timeoutSeconds must be > 0/);
    assert.throws(() => task({ name: 't', cacheKey: 'hash' as 'inputs' }, async () => 1), /cacheKey must be 'inputs' or a function/);
  });

  it('names a flow after its function by default and exposes its parameter schema', async () => {
    const { z } = await import('zod');
    const f = flow({ parameters: z.object({ n: z.number().default(1) }) }, async function nightly({ n }) {
      return n;
    });
    assert.equal(f.flowName, 'nightly');
    const schema = f.parameterSchema();
    assert.equal((schema?.properties as Record<string, { type: string }>).n.type, 'number');
  });
});
