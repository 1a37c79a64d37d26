import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { formatPath, type FieldIssue } from '../core/errors.ts';
import { jsonTextIsStorable, jsonValueIssues, MAX_JSON_DEPTH, stringProblem } from '../core/json.ts';
import { hostileJson, toJsonText } from './support/hostile.ts';

/**
 * The API checks every JSON body for what PostgreSQL cannot store. It reads the text first
 * (jsonTextIsStorable) and walks the value (jsonValueIssues) only when the text leaves a doubt, so the
 * text check must never clear a body the walk refuses; and the walk, rewritten to allocate nothing per
 * string, must report exactly what the walk before it did, in the same order.
 */

/** The walk as it was before (a path array per value), kept as the reference. */
function referenceIssues(value: unknown, options: { prefix?: ReadonlyArray<PropertyKey>; max?: number } = {}): FieldIssue[] {
  const max = options.max ?? 10;
  const issues: FieldIssue[] = [];
  const stack: { v: unknown; path: PropertyKey[]; depth: number }[] = [{ v: value, path: [...(options.prefix ?? [])], depth: 0 }];
  while (stack.length > 0 && issues.length < max) {
    const { v, path, depth } = stack.pop()!;
    if (typeof v === 'string') {
      const problem = stringProblem(v);
      if (problem) issues.push({ path: formatPath(path), message: problem });
      continue;
    }
    if (v === null || typeof v !== 'object') continue;
    if (depth >= MAX_JSON_DEPTH) {
      issues.push({ path: formatPath(path), message: `nests deeper than ${MAX_JSON_DEPTH} levels` });
      continue;
    }
    if (Array.isArray(v)) {
      for (let i = v.length - 1; i >= 0; i--) stack.push({ v: v[i], path: [...path, i], depth: depth + 1 });
      continue;
    }
    const keys = Object.keys(v);
    for (let i = keys.length - 1; i >= 0; i--) {
      const k = keys[i];
      const problem = stringProblem(k);
      if (problem) issues.push({ path: formatPath([...path, k]), message: `key ${problem}` });
      stack.push({ v: (v as Record<string, unknown>)[k], path: [...path, k], depth: depth + 1 });
    }
  }
  return issues;
}

const nested = (depth: number, inner: string, open = '{"a":', close = '}') => open.repeat(depth) + inner + close.repeat(depth);

describe('JSON bodies PostgreSQL can store', () => {
  it('reports what the previous walk reported, in the same order, for hostile documents', () => {
    const doc = fc.oneof(hostileJson, fc.array(hostileJson, { maxLength: 4 }), fc.dictionary(fc.string(), hostileJson, { maxKeys: 4 }));
    fc.assert(
      fc.property(doc, fc.constantFrom(undefined, ['payload'], [3, 'related']), fc.constantFrom(1, 3, 10), (d, prefix, max) => {
        const value = JSON.parse(toJsonText(d)) as unknown;
        assert.deepEqual(jsonValueIssues(value, { prefix, max }), referenceIssues(value, { prefix, max }));
      }),
      { numRuns: 2000 },
    );
  });

  it('names the path of each bad value and key, and stops at the depth', () => {
    const value = JSON.parse('{"a":[1,"x\\u0000",{"b\\ud800":"ok","c":"\\udc00"}],"d":"fine"}') as unknown;
    assert.deepEqual(
      jsonValueIssues(value, { prefix: [2, 'payload'] }).map((i) => i.path),
      ['[2].payload.a[1]', '[2].payload.a[2].b\ud800', '[2].payload.a[2].c'],
    );
    const deep = JSON.parse(nested(MAX_JSON_DEPTH + 1, '1')) as unknown;
    const [issue] = jsonValueIssues(deep);
    assert.equal(issue.path, Array(MAX_JSON_DEPTH).fill('a').join('.'));
    assert.match(issue.message, /nests deeper than 64/);
    assert.deepEqual(jsonValueIssues(JSON.parse(nested(MAX_JSON_DEPTH, '1')) as unknown), [], '64 levels are allowed');
  });

  it('clears by its text only documents the walk passes', () => {
    fc.assert(
      fc.property(fc.oneof(hostileJson, fc.array(hostileJson, { maxLength: 4 }), fc.dictionary(fc.string(), hostileJson, { maxKeys: 4 })), (d) => {
        const text = toJsonText(d);
        if (jsonTextIsStorable(text)) assert.deepEqual(jsonValueIssues(JSON.parse(text) as unknown), [], text.slice(0, 200));
      }),
      { numRuns: 2000 },
    );
    // Escapes, raw characters and nesting at each edge, including brackets and quotes inside strings.
    const cases: Array<[string, boolean]> = [
      ['{"event":"order.created","payload":{"amount":120,"items":["a","b"]}}', true],
      ['{"s":"\\u0000"}', false],
      ['{"s":"\\uD800"}', false],
      ['{"s":"x\\udfff"}', false],
      ['{"s\\ud800":1}', false],
      ['{"s":"\\\\u0000"}', false], // a backslash and "u0000": walked, and then passed
      ['{"s":"\\ud83d\\ude00"}', false], // an escaped emoji: walked, and then passed
      ['{"s":"😀"}', false],
      ['{"s":"\\u0041"}', true],
      ['{"s":"[[[[{{{{\\"]]]"}', true],
      [nested(MAX_JSON_DEPTH, '1'), true],
      [nested(MAX_JSON_DEPTH + 1, '1'), false],
      [nested(MAX_JSON_DEPTH + 1, '1', '[', ']'), false],
      [`[${Array(200).fill('{"a":[1]}').join(',')}]`, true],
    ];
    for (const [text, clear] of cases) {
      assert.equal(jsonTextIsStorable(text), clear, text.slice(0, 80));
      if (clear) assert.deepEqual(jsonValueIssues(JSON.parse(text) as unknown), []);
    }
    assert.deepEqual(jsonValueIssues(JSON.parse('{"s":"\\\\u0000"}') as unknown), []);
  });
});
