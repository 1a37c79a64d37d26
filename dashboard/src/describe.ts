import type { DeploymentConcurrency, DeploymentSla, FlowControl } from './types.ts';

/**
 * Flow control, concurrency keys and SLAs in words: what a declaration does, as docs/automations.md and
 * docs/orchestration.md say it, so a reader of the dashboard need not decode the JSON (issue 15).
 */

/** `90` → `1 min 30 s`; `3600` → `1 h`. */
export function seconds(n: number): string {
  if (n < 60) return `${Number(n.toFixed(3))} s`;
  const parts: string[] = [];
  let rest = Math.round(n);
  for (const [unit, size] of [['d', 86_400], ['h', 3600], ['min', 60], ['s', 1]] as const) {
    const k = Math.floor(rest / size);
    if (k > 0) parts.push(`${k} ${unit}`);
    rest -= k * size;
  }
  return parts.join(' ');
}

const keyText = (key: unknown): string => (key === undefined ? 'for the whole automation' : typeof key === 'string' ? `per key ${key}` : `per key ${JSON.stringify(key)}`);

export function describeFlowControl(fc: FlowControl | null | undefined): string | null {
  if (!fc) return null;
  if (fc.debounce) {
    const d = fc.debounce;
    const when = d.mode === 'leading' ? 'acts on the first event, then suppresses the rest of the window' : 'acts once the window closes, with every event of it';
    const bound = d.max_delay ? `, closing at the latest ${seconds(d.max_delay)} after its first event` : '';
    return `Debounce ${keyText(d.key)}: a window closes after ${seconds(d.period)} without a matching event${bound}; it ${when} (up to ${d.max_events}).`;
  }
  if (fc.throttle) {
    const t = fc.throttle;
    const burst = t.burst !== undefined && t.burst < t.limit ? `, at most ${t.burst} back to back` : '';
    return `Throttle ${keyText(t.key)}: at most ${t.limit} per ${seconds(t.period)}${burst}; the excess waits its turn, in order, never dropped.`;
  }
  if (fc.rate_limit) {
    const r = fc.rate_limit;
    return `Rate limit ${keyText(r.key)}: at most ${r.limit} per ${seconds(r.period)}; the excess is dropped and recorded as rate-limited.`;
  }
  if (fc.batch) {
    const b = fc.batch;
    return `Batch ${keyText(b.key)}: acts once with ${b.max_size} events, or with what arrived ${seconds(b.timeout)} after a batch's first event.`;
  }
  return null;
}

const COLLISION: Record<DeploymentConcurrency['collision'], string> = {
  enqueue: 'a run over the limit waits in order for a slot',
  'cancel-new': 'a run over the limit is cancelled',
  'cancel-in-progress': 'a new run cancels the runs in flight for its key (the newest wins)',
};

export function describeConcurrency(c: DeploymentConcurrency | null, deploymentLimit: number | null): string | null {
  if (!c) return null;
  const burst = c.burst > 0 ? `, up to ${c.limit + c.burst} while the deployment-wide limit${deploymentLimit ? ` (${deploymentLimit})` : ''} has room and no other key waits below its floor` : '';
  return `At most ${c.limit} run${c.limit === 1 ? '' : 's'} at once per key ${c.key}${burst}; ${COLLISION[c.collision]}.`;
}

export function describeSla(sla: DeploymentSla): string {
  switch (sla.type) {
    case 'time-to-completion':
      return `Each run ends within ${seconds(sla.seconds)} of starting to run.`;
    case 'lateness':
      return `Each run starts within ${seconds(sla.seconds)} of its scheduled time.`;
    case 'frequency':
      return `A run completes at least every ${seconds(sla.seconds)}.`;
    case 'freshness':
      return `After each ${sla.event} event, a run completes within ${seconds(sla.seconds)}.`;
  }
}

/** What flow control did with one firing, from the record the engine keeps on it. */
export function describeFiringFlowControl(fc: Record<string, unknown> | null | undefined): string | null {
  if (!fc) return null;
  const mode = typeof fc.mode === 'string' ? fc.mode.replace('_', ' ') : 'flow control';
  const key = typeof fc.key === 'string' && fc.key !== '' ? ` on key ${fc.key}` : '';
  const events = Array.isArray(fc.event_ids) ? `, ${fc.event_ids.length} event${fc.event_ids.length === 1 ? '' : 's'}` : '';
  const delayed = typeof fc.delayed_ms === 'number' && fc.delayed_ms > 0 ? `, delayed ${seconds(fc.delayed_ms / 1000)}` : '';
  const reason = typeof fc.reason === 'string' ? `: ${fc.reason}` : '';
  return `${mode[0].toUpperCase()}${mode.slice(1)}${key}${events}${delayed}${reason}`;
}
