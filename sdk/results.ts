import { sha256Hex } from '../core/ids.ts';
import { scrubRevealed } from './revealed.ts';

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

const MASKED = '$reflex_masked';

/** A stored value that held a secret getSecret() revealed: the value with the secret masked. */
export interface MaskedResult {
  [MASKED]: true;
  value: unknown;
}

/**
 * The JSON value to store, or a truncation marker with a preview when it is bigger than `maxBytes`. A
 * value holding a secret revealed in this process is stored with the secret masked, inside a marker: a
 * result or a task's input is shown by the API, the dashboard and events, where no secret may appear.
 */
export function summarizeResult(value: unknown, maxBytes = SUMMARY_MAX_BYTES): unknown {
  const json = toJsonValue(value);
  const raw = JSON.stringify(json);
  const text = scrubRevealed(raw);
  const bytes = Buffer.byteLength(text);
  if (bytes > maxBytes) {
    const marker: TruncatedResult = { [TRUNCATED]: true, bytes, preview: text.slice(0, 512) };
    return marker;
  }
  if (text === raw) return json;
  const masked: MaskedResult = { [MASKED]: true, value: JSON.parse(text) as unknown };
  return masked;
}

export function isTruncated(value: unknown): value is TruncatedResult {
  return typeof value === 'object' && value !== null && (value as Record<string, unknown>)[TRUNCATED] === true;
}

/**
 * Whether a stored result is the value the code returned, so a cache hit or a replay may return it: not
 * truncated, and not masked (a replay handing the flow "********" for its token would be wrong; the task
 * runs again instead).
 */
export function isStoredInFull(value: unknown): boolean {
  return !isTruncated(value) && !(typeof value === 'object' && value !== null && (value as Record<string, unknown>)[MASKED] === true);
}

/** A stable hash of a call's inputs: object keys are sorted, so `{a, b}` and `{b, a}` hash alike. */
export function hashInputs(args: readonly unknown[]): string {
  return sha256Hex(stableStringify(toJsonValue(args))).slice(0, 32);
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
/** A subflow's parameters as stored, with any secret revealed in this process masked. */
export function parametersOf(args: readonly unknown[]): Record<string, unknown> {
  if (args.length === 0) return {};
  const json = args.length === 1 && isPlainObject(args[0]) ? toJsonValue(args[0]) : { args: toJsonValue(args) };
  const raw = JSON.stringify(json);
  const text = scrubRevealed(raw);
  return (text === raw ? json : JSON.parse(text)) as Record<string, unknown>;
}

export function isPlainObject(v: unknown): v is Record<string, unknown> {
  if (typeof v !== 'object' || v === null) return false;
  const proto = Object.getPrototypeOf(v) as unknown;
  return proto === Object.prototype || proto === null;
}
