import { acceptedEntries, deliveriesByEvent, type CheckInput } from './checker.ts';
import type { HeldJobs } from './held.ts';
import type { AttemptOutcome } from './ledger.ts';
import { seconds, type Measure } from './result.ts';
import { qualifies, RUN_DEPLOYMENT } from './workload.ts';

/**
 * How long the engine took to get over the fault, from the timestamps the ledger, the receiver and the
 * engine's tables hold: the restart itself, the gaps in ingest and deliveries, and when the work accepted
 * before the restart was ready was finally done, pipeline by pipeline.
 */
export function recoveryMeasures(input: CheckInput): Measure[] {
  const { timeline: t, ledger } = input;
  const out: Measure[] = [];
  const restartLabel = input.scenario.kind === 'receiver' ? 'receiver healthy at' : `${input.scenario.target} ready after the restart began`;
  out.push({ name: restartLabel, seconds: t.readyAt === null ? null : seconds(t.readyAt - t.recoverAt), note: t.readyAt === null ? 'did not come back' : undefined });

  const acks = ledger.ackTimes().filter((a) => a >= t.faultAt - 1000);
  const ingestGap = longestGap([t.faultAt - 1000, ...acks], t.loadEnd);
  out.push({
    name: 'ingest: longest time without a 202',
    seconds: seconds(ingestGap.ms),
    note: ingestGap.ms > 1000 ? `from t=${rel(ingestGap.from, t)} to t=${rel(ingestGap.to, t)} s` : undefined,
  });

  const deliveryTimes = input.deliveries.map((d) => d.at).sort((a, b) => a - b);
  const firstAfter = deliveryTimes.find((at) => at >= t.recoverAt);
  out.push({ name: 'deliveries resumed after the restart', seconds: firstAfter === undefined ? null : seconds(firstAfter - t.recoverAt) });
  const inWindow = deliveryTimes.filter((at) => at >= t.faultAt);
  const deliveryGap = longestGap([t.faultAt, ...inWindow], Math.max(t.loadEnd, inWindow[inWindow.length - 1] ?? t.loadEnd));
  out.push({ name: 'deliveries: longest gap after the fault', seconds: seconds(deliveryGap.ms), note: `from t=${rel(deliveryGap.from, t)} to t=${rel(deliveryGap.to, t)} s` });

  // What the dead process held: work accepted before the fault but not done by then (in a steady state
  // there is no other backlog at that moment). Then the backlog the outage left: work accepted before the
  // restart was ready, which the restarted or surviving processes take at once.
  if (input.held) out.push(...heldJobs(input));
  out.push(lastDone(input, t.faultAt, 'pre-fault work done, after the fault'));
  out.push(lastDone(input, t.readyAt ?? t.recoverAt, 'backlog cleared: work accepted before the restart was ready, done after it'));
  return out;
}

/**
 * The jobs the killed process held: when BullMQ handed them back to the queue (its stalled check), and
 * when their work was done again (a delivery received, a run finished), both after the kill. The second
 * also waits for the backlog the outage left, which the first does not.
 */
function heldJobs(input: CheckInput): Measure[] {
  const held = input.held as HeldJobs;
  const kill = input.timeline.faultAt;
  const ids = [...held.jobs.keys()];
  if (ids.length === 0) return [{ name: 'held jobs: none was active at the kill', seconds: null }];
  // A delivery that reached the receiver just before the kill, its attempt recorded, is not sent again
  // (its series is finished): it counts as done at that time.
  const arrivals = new Map<string, number>();
  for (const d of [...input.deliveries].sort((a, b) => a.at - b.at)) {
    const seen = arrivals.get(d.eventId);
    if (seen === undefined || (seen < kill && d.at >= kill)) arrivals.set(d.eventId, d.at);
  }
  const ends = new Map(input.snap.runs.map((r) => [r.id, r.endTime]));
  const back = ids.map((id) => held.stalledAt.get(id));
  const done = ids.map((id) => {
    const job = held.jobs.get(id)!;
    return job.eventId ? arrivals.get(job.eventId) : job.flowRunId ? (ends.get(job.flowRunId) ?? undefined) : undefined;
  });
  const last = (times: Array<number | undefined>) => {
    const known = times.filter((x): x is number => x !== undefined);
    return { seconds: known.length ? seconds(Math.max(kill, ...known) - kill) : null, missing: times.length - known.length };
  };
  const b = last(back);
  const d = last(done);
  const ready = input.timeline.readyAt;
  const afterReady = b.seconds !== null && ready !== null ? `${(b.seconds - (ready - kill) / 1000).toFixed(1)} s after the restarted process was up` : '';
  return [
    {
      name: `held jobs handed back: the ${ids.length} active at the kill, back in the queue after it`,
      seconds: b.seconds,
      note: [b.missing ? `${b.missing} not handed back by a stalled check` : '', afterReady].filter(Boolean).join('; ') || undefined,
    },
    { name: 'held jobs done again after the kill', seconds: d.missing ? null : d.seconds, note: d.missing ? `${d.missing} never done again` : undefined },
  ];
}

/** When the last of the work accepted before `cutoff` was done, relative to it, pipeline by pipeline. */
function lastDone(input: CheckInput, cutoff: number, name: string): Measure {
  const { ledger, snap } = input;
  const before = acceptedEntries(ledger, snap).filter((e) => (e.ackedAt ?? e.firstSentAt) < cutoff);
  const byEvent = deliveriesByEvent(input.deliveries);
  const runsByN = new Map(snap.runs.filter((r) => r.deployment === RUN_DEPLOYMENT).map((r) => [r.n, r]));
  const pipelines: Array<[string, Array<number | undefined>]> = [
    ['stored', before.map((e) => snap.stored.get(e.id))],
    ['fired', before.filter((e) => qualifies.webhook(e.n)).map((e) => snap.firings.webhook.firedAt.get(e.id))],
    ['delivered', before.filter((e) => qualifies.webhook(e.n)).map((e) => byEvent.get(e.id)?.first)],
    ['run finished', before.filter((e) => qualifies.run(e.n, input.workload)).map((e) => runsByN.get(e.n)?.endTime ?? undefined)],
  ];
  const parts: string[] = [];
  let latest = cutoff;
  let latestWhat = '';
  let never = 0;
  for (const [what, times] of pipelines) {
    const missing = times.filter((x) => x === undefined).length;
    never += missing;
    const last = Math.max(cutoff, ...times.filter((x): x is number => x !== undefined));
    parts.push(`${what} +${((last - cutoff) / 1000).toFixed(1)} s${missing ? ` (${missing} never)` : ''}`);
    if (last > latest) {
      latest = last;
      latestWhat = what;
    }
  }
  return { name, seconds: never > 0 ? null : seconds(latest - cutoff), note: `${parts.join(', ')}${latestWhat ? `; last: ${latestWhat}` : ''}` };
}

/** What the ledger saw of the API during the scenario, by outcome: count, and median duration. */
export function attemptSummary(input: CheckInput): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [outcome, stats] of input.ledger.attempts as Map<AttemptOutcome, { count: number; durations: number[] }>) {
    const sorted = [...stats.durations].sort((a, b) => a - b);
    const p = (q: number) => sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] ?? 0;
    out[outcome] = `${stats.count} (p50 ${p(0.5)} ms, p99 ${p(0.99)} ms)`;
  }
  for (const [code, count] of input.ledger.failureCodes) out[`answer ${code}`] = String(count);
  return out;
}

/** The longest interval between consecutive times (sorted), counting up to `end`. */
function longestGap(times: number[], end: number): { ms: number; from: number; to: number } {
  const sorted = [...times].sort((a, b) => a - b);
  let best = { ms: 0, from: sorted[0] ?? end, to: sorted[0] ?? end };
  for (let i = 0; i < sorted.length; i++) {
    const next = i + 1 < sorted.length ? sorted[i + 1] : end;
    if (next - sorted[i] > best.ms) best = { ms: next - sorted[i], from: sorted[i], to: next };
  }
  return best;
}

function rel(at: number, t: { loadStart: number }): string {
  return ((at - t.loadStart) / 1000).toFixed(1);
}
