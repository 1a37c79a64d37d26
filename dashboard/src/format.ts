/** Formatting shared by every page: times, durations, ranges in the query string. */

export function ago(iso: string | null | undefined, now = Date.now()): string {
  if (!iso) return '—';
  const s = Math.round((now - Date.parse(iso)) / 1000);
  const a = Math.abs(s);
  const unit = a < 60 ? `${a}s` : a < 3600 ? `${Math.round(a / 60)}m` : a < 86400 ? `${Math.round(a / 3600)}h` : `${Math.round(a / 86400)}d`;
  return s >= 0 ? `${unit} ago` : `in ${unit}`;
}

export function when(iso: string | null | undefined): string {
  if (!iso) return '—';
  const d = new Date(iso);
  return `${d.toLocaleDateString(undefined, { month: 'short', day: 'numeric' })} ${d.toLocaleTimeString(undefined, { hour12: false })}`;
}

export function duration(seconds: number | null | undefined): string {
  if (seconds === null || seconds === undefined || Number.isNaN(seconds)) return '—';
  if (seconds < 1) return `${Math.round(seconds * 1000)} ms`;
  if (seconds < 60) return `${seconds.toFixed(seconds < 10 ? 2 : 1)} s`;
  const m = Math.floor(seconds / 60);
  return m < 60 ? `${m}m ${Math.round(seconds % 60)}s` : `${Math.floor(m / 60)}h ${m % 60}m`;
}

/** The ranges offered by the range picker, as the `range` query parameter spells them. */
export const RANGES: Record<string, { label: string; ms: number }> = {
  '1h': { label: 'Last hour', ms: 3600e3 },
  '24h': { label: 'Last 24 hours', ms: 86400e3 },
  '7d': { label: 'Last 7 days', ms: 7 * 86400e3 },
  '30d': { label: 'Last 30 days', ms: 30 * 86400e3 },
};

/** since/until for a `range` parameter, rounded to the second so a refetch asks the same range shape. */
export function rangeBounds(range: string | undefined, fallback = '24h'): { since: string; until: string } {
  const ms = (RANGES[range ?? ''] ?? RANGES[fallback]).ms;
  const until = Math.ceil(Date.now() / 1000) * 1000 + 1000;
  return { since: new Date(until - ms).toISOString(), until: new Date(until).toISOString() };
}

export const LOG_LEVELS: Record<number, string> = { 10: 'trace', 20: 'debug', 30: 'info', 40: 'warn', 50: 'error', 60: 'fatal' };
export const levelName = (n: number) => LOG_LEVELS[n] ?? String(n);

/** Keys whose values are never shown, wherever they appear (payloads, headers, rendered actions). */
const SECRET_KEY = /secret|password|passwd|token|authorization|api[-_]?key|cookie/i;
/** The API's own mask of signing secrets (SECRET_MASK in schemas/automation.ts), so a masked value reads the same everywhere. */
export const MASK = '********';

/** A copy with the values of secret-looking keys masked (defence in depth: the API already masks secrets). */
export function redact(v: unknown, depth = 0): unknown {
  if (depth > 50 || v === null || typeof v !== 'object') return v;
  if (Array.isArray(v)) return v.map((x) => redact(x, depth + 1));
  return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, SECRET_KEY.test(k) && (typeof x === 'string' || typeof x === 'number') ? MASK : redact(x, depth + 1)]));
}

export const pretty = (v: unknown) => (typeof v === 'string' ? v : JSON.stringify(redact(v), null, 2));
