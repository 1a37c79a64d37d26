import type { EventFilterFields } from '../schemas/event-filter.ts';
import type { ReflexEvent } from '../schemas/event.ts';

/**
 * The event filter applied in process, to events arriving live (the SSE stream). Same meaning as the SQL
 * in core/event-store.ts: fields ANDed, values of one field ORed, `*` suffix = prefix.
 */
export function eventMatcher(f: EventFilterFields): (e: ReflexEvent) => boolean {
  const tests: Array<(e: ReflexEvent) => boolean> = [];
  if (f.occurred_after) {
    const after = Date.parse(f.occurred_after);
    tests.push((e) => Date.parse(e.occurred) >= after);
  }
  if (f.occurred_before) {
    const before = Date.parse(f.occurred_before);
    tests.push((e) => Date.parse(e.occurred) < before);
  }
  if (f.event && !f.event.includes('*')) {
    const name = anyOf(f.event.map((p) => (p.endsWith('.*') ? p.slice(0, -1) + '*' : p)));
    tests.push((e) => name(e.event));
  }
  if (f.resource_id) {
    const id = anyOf(f.resource_id);
    tests.push((e) => id(e.resource['reflex.resource.id'] ?? ''));
  }
  if (f.related_id) {
    const ids = new Set(f.related_id);
    tests.push((e) => e.related.some((r) => ids.has(r['reflex.resource.id'] ?? '')));
  }
  for (const [label, value] of Object.entries(f.labels ?? {})) {
    const values = new Set(Array.isArray(value) ? value : [value]);
    tests.push((e) => {
      const v = e.resource[label];
      return v !== undefined && values.has(v);
    });
  }
  return (e) => tests.every((t) => t(e));
}

/** Exact values, or prefixes when they end in `*`. */
function anyOf(patterns: string[]): (value: string) => boolean {
  const exact = new Set(patterns.filter((p) => !p.endsWith('*')));
  const prefixes = patterns.filter((p) => p.endsWith('*')).map((p) => p.slice(0, -1));
  return (v) => exact.has(v) || prefixes.some((p) => v.startsWith(p));
}
