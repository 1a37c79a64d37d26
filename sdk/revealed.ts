/**
 * Secret values getSecret() handed to flow code in this process: run log lines (stored and echoed) and
 * emitted events are scrubbed of them, so a `log.info(token)` does not put a secret in the log. Values
 * shorter than 4 characters are not scrubbed (they would mask ordinary words).
 */
const KEY = Symbol.for('reflex.sdk.revealed');
const g = globalThis as typeof globalThis & { [KEY]?: Set<string> };
const revealed: Set<string> = (g[KEY] ??= new Set());

export const REVEALED_MASK = '********';

export function reveal(value: string): void {
  if (value.length < 4) return;
  revealed.add(value);
  // Inside JSON text (a log line, an event) the value appears escaped.
  revealed.add(JSON.stringify(value).slice(1, -1));
}

export function scrubRevealed(text: string): string {
  if (revealed.size === 0) return text;
  let out = text;
  for (const v of revealed) if (out.includes(v)) out = out.split(v).join(REVEALED_MASK);
  return out;
}
