import { formatPath, type FieldIssue } from './errors.ts';
import { LONE_SURROGATE, storableText, SURROGATE } from './text.ts';

export { storableText };

/**
 * What PostgreSQL (jsonb and text) can store, checked before anything is accepted: a value refused here
 * would otherwise be acknowledged, then refused by the database, again and again. PostgreSQL cannot hold
 * the NUL character, nor a UTF-16 surrogate that is not part of a pair (JSON allows both as `\u` escapes),
 * and deep nesting makes recursive code (validation, rendering) overflow its stack.
 */

/** Documents that passed jsonValueIssues whole (the API's body parser), so later checks of their parts can be skipped. */
const checked = new WeakSet<object>();

/** Records that `value` passed jsonValueIssues (with the default depth) from its root. */
export function markStorable(value: unknown): void {
  if (value !== null && typeof value === 'object') checked.add(value);
}

/** True when `value` itself was marked by markStorable: none of its strings, keys or depths needs checking again. */
export function isMarkedStorable(value: unknown): boolean {
  return value !== null && typeof value === 'object' && checked.has(value);
}

/** Objects and arrays nest at most this deep in any JSON Reflex accepts. */
export const MAX_JSON_DEPTH = 64;

/** A JSON value with every string and key made storable (storableText); deeper than MAX_JSON_DEPTH is cut. */
export function storableJson(value: unknown, depth = 0): unknown {
  if (typeof value === 'string') return storableText(value);
  if (value === null || typeof value !== 'object') return value;
  if (depth >= MAX_JSON_DEPTH) return null;
  if (Array.isArray(value)) return value.map((v) => storableJson(v, depth + 1));
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(value)) out[storableText(k)] = storableJson(v, depth + 1);
  return out;
}

/** JSON with object keys sorted, so equal documents compare equal whatever order their keys were stored in. */
export function canonicalJson(value: unknown): string {
  return (
    JSON.stringify(value, (_k, v: unknown) =>
      v && typeof v === 'object' && !Array.isArray(v)
        ? Object.fromEntries(Object.entries(v as Record<string, unknown>).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)))
        : v,
    ) ?? 'null'
  );
}

/** Why PostgreSQL could not store this string, or null when it can. */
export function stringProblem(s: string): string | null {
  if (s.includes('\u0000')) return 'contains a NUL character (\\u0000), which cannot be stored; encode binary data as base64';
  if (SURROGATE.test(s) && LONE_SURROGATE.test(s)) return 'contains a lone UTF-16 surrogate (an unpaired \\uD800-\\uDFFF escape), which is not valid Unicode';
  return null;
}

/**
 * Every problem of a JSON value (first `max` of them), with the path of the offending value or key.
 * Iterative, so a hostile document nested thousands deep is reported, not a stack overflow.
 */
export function jsonValueIssues(value: unknown, options: { prefix?: ReadonlyArray<PropertyKey>; maxDepth?: number; max?: number } = {}): FieldIssue[] {
  const maxDepth = options.maxDepth ?? MAX_JSON_DEPTH;
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
    if (depth >= maxDepth) {
      issues.push({ path: formatPath(path), message: `nests deeper than ${maxDepth} levels` });
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
