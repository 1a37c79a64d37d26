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

/** A step of the path to a value, linked to its parent's: a path is only written out for a value with an issue. */
interface PathStep {
  parent: PathStep | undefined;
  key: PropertyKey;
}

function pathText(prefix: ReadonlyArray<PropertyKey>, step: PathStep | undefined, last?: PropertyKey): string {
  const keys: PropertyKey[] = last === undefined ? [] : [last];
  for (let s = step; s; s = s.parent) keys.push(s.key);
  keys.push(...[...prefix].reverse());
  return formatPath(keys.reverse());
}

/** A container being walked: its keys (objects) and the next child to visit. */
interface Frame {
  value: object;
  keys: string[] | undefined;
  next: number;
  step: PathStep | undefined;
  depth: number;
}

/**
 * Every problem of a JSON value (first `max` of them), with the path of the offending value or key.
 * Iterative, so a hostile document nested thousands deep is reported, not a stack overflow. Depth first,
 * in document order (an object's bad keys before its values); it allocates one frame per container and
 * nothing per string or number, since the API runs it on every body it accepts.
 */
export function jsonValueIssues(value: unknown, options: { prefix?: ReadonlyArray<PropertyKey>; maxDepth?: number; max?: number } = {}): FieldIssue[] {
  const maxDepth = options.maxDepth ?? MAX_JSON_DEPTH;
  const max = options.max ?? 10;
  const prefix = options.prefix ?? [];
  const issues: FieldIssue[] = [];
  const stack: Frame[] = [];
  // Checks one value at `depth`; a container within the depth becomes the frame walked next.
  const visit = (v: unknown, step: PathStep | undefined, key: PropertyKey | undefined, depth: number): void => {
    if (typeof v === 'string') {
      const problem = stringProblem(v);
      if (problem) issues.push({ path: pathText(prefix, step, key), message: problem });
      return;
    }
    if (v === null || typeof v !== 'object') return;
    if (depth >= maxDepth) {
      issues.push({ path: pathText(prefix, step, key), message: `nests deeper than ${maxDepth} levels` });
      return;
    }
    const own = key === undefined ? step : { parent: step, key };
    const keys = Array.isArray(v) ? undefined : Object.keys(v);
    if (keys) {
      // Reported as the walk always did: an object's bad keys, last first, before anything inside it.
      for (let i = keys.length - 1; i >= 0; i--) {
        const problem = stringProblem(keys[i]);
        if (problem) issues.push({ path: pathText(prefix, own, keys[i]), message: `key ${problem}` });
      }
    }
    stack.push({ value: v, keys, next: 0, step: own, depth });
  };
  visit(value, undefined, undefined, 0);
  while (stack.length > 0 && issues.length < max) {
    const frame = stack[stack.length - 1];
    const { value: container, keys } = frame;
    const size = keys ? keys.length : (container as unknown[]).length;
    if (frame.next >= size) {
      stack.pop();
      continue;
    }
    const i = frame.next++;
    if (keys) visit((container as Record<string, unknown>)[keys[i]], frame.step, keys[i], frame.depth + 1);
    else visit((container as unknown[])[i], frame.step, i, frame.depth + 1);
  }
  return issues;
}

const SUSPECT_ESCAPE = /\\u(?:0000|d[89a-f])/i;

/**
 * True when JSON text (already parsed without error) certainly holds a value jsonValueIssues passes: no
 * `\u0000` or surrogate escape, no NUL or surrogate character, and objects and arrays nested at most
 * MAX_JSON_DEPTH deep. Reading the text once is cheaper than walking the value; false (including for an
 * escaped backslash before a `u`, or an emoji) only means the walk decides.
 */
export function jsonTextIsStorable(text: string): boolean {
  if (SUSPECT_ESCAPE.test(text) || SURROGATE.test(text) || text.includes('\u0000')) return false;
  let depth = 0;
  let inString = false;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (inString) {
      if (c === 92) i++; // a backslash: the next character is escaped
      else if (c === 34) inString = false;
    } else if (c === 34) inString = true;
    else if (c === 123 || c === 91) {
      if (++depth > MAX_JSON_DEPTH) return false;
    } else if (c === 125 || c === 93) depth--;
  }
  return true;
}
