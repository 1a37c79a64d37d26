import { createHash } from 'node:crypto';

/**
 * What is stored of a return value: its JSON form, or a marker when it is too big. Flows and tasks
 * return anything; the run record keeps a JSON-serialisable summary. A cached task keeps its full value
 * (up to `CACHE_MAX_BYTES`) because a cache hit returns it.
 */

export const SUMMARY_MAX_BYTES = 16 * 1024;
export const CACHE_MAX_BYTES = 1024 * 1024;

const TRUNCATED = '$reflex_truncated';

export interface TruncatedResult {
  [TRUNCATED]: true;
  bytes: number;
  preview: string;
}

/** JSON round trip that never throws: bigint becomes a string, functions and symbols are dropped, cycles are marked. */
export function toJsonValue(value: unknown): unknown {
  if (value === undefined) return null;
  const seen = new WeakSet<object>();
  const text = JSON.stringify(value, (_key, v: unknown) => {
    if (typeof v === 'bigint') return v.toString();
    if (typeof v === 'object' && v !== null) {
      if (seen.has(v)) return '[Circular]';
      seen.add(v);
    }
    if (v instanceof Map) return Object.fromEntries(v);
    if (v instanceof Set) return [...v];
    if (v instanceof Error) return { name: v.name, message: v.message };
    return v;
  });
  return text === undefined ? null : (JSON.parse(text) as unknown);
}

/** The JSON value to store, or a truncation marker with a preview when it is bigger than `maxBytes`. */
export function summarizeResult(value: unknown, maxBytes = SUMMARY_MAX_BYTES): unknown {
  const json = toJsonValue(value);
  const text = JSON.stringify(json);
  const bytes = Buffer.byteLength(text);
  if (bytes <= maxBytes) return json;
  const marker: TruncatedResult = { [TRUNCATED]: true, bytes, preview: text.slice(0, 512) };
  return marker;
}

export function isTruncated(value: unknown): value is TruncatedResult {
  return typeof value === 'object' && value !== null && (value as Record<string, unknown>)[TRUNCATED] === true;
}

/** A stable hash of a call's inputs: object keys are sorted, so `{a, b}` and `{b, a}` hash alike. */
export function hashInputs(args: readonly unknown[]): string {
  return createHash('sha256').update(stableStringify(toJsonValue(args))).digest('hex').slice(0, 32);
}

function stableStringify(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(stableStringify).join(',')}]`;
  if (value && typeof value === 'object') {
    const entries = Object.entries(value as Record<string, unknown>).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${stableStringify(v)}`).join(',')}}`;
  }
  return JSON.stringify(value);
}

/** What a flow run records as `parameters`: its one object argument, or the positional arguments. */
export function parametersOf(args: readonly unknown[]): Record<string, unknown> {
  if (args.length === 1 && isPlainObject(args[0])) return toJsonValue(args[0]) as Record<string, unknown>;
  if (args.length === 0) return {};
  return { args: toJsonValue(args) };
}

export function isPlainObject(v: unknown): v is Record<string, unknown> {
  if (typeof v !== 'object' || v === null) return false;
  const proto = Object.getPrototypeOf(v) as unknown;
  return proto === Object.prototype || proto === null;
}
