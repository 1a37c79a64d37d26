import type { HeldJobs } from './held.ts';
import type { Ledger, LedgerEntry } from './ledger.ts';
import { isFinal, shouldBeFinal, type EngineSnapshot } from './observe.ts';
import type { Delivery } from './receiver.ts';
import type { Criterion } from './result.ts';
import type { Scenario } from './scenarios.ts';
import type { ServiceProcessName, Supervisor } from './supervisor.ts';
import { expectedFirings, qualifies, RUN_DEPLOYMENT, SCHEDULE_INTERVAL_SECONDS, SCHEDULED_DEPLOYMENT, type WorkloadOptions } from './workload.ts';
import type { Timeline } from './result.ts';

/**
 * Judges one scenario: compares the ledger (what the API acknowledged) and the receiver (what arrived)
 * with the engine's tables after the drain. Pure: every input is gathered before, so each criterion can
 * be read as a formula over them.
 */
export interface CheckInput {
  scenario: Scenario;
  ledger: Ledger;
  deliveries: readonly Delivery[];
  snap: EngineSnapshot;
  timeline: Timeline;
  supervisor: Supervisor;
  workload: WorkloadOptions;
  /** Deliveries due before the restart must have arrived this long after it. */
  deadlineSeconds: number;
  apiHealthy: boolean;
  /** The BullMQ jobs the killed process held (webhooks and worker scenarios). */
  held?: HeldJobs;
}

/** Events the engine took: acknowledged, or stored although their 202 never came (both must fire). */
export function acceptedEntries(ledger: Ledger, snap: EngineSnapshot): LedgerEntry[] {
  return ledger.entries.filter((e) => e.ackedAt !== null || snap.stored.has(e.id));
}

/** First arrival per event id, and the webhook ids each event came with. */
export function deliveriesByEvent(deliveries: readonly Delivery[]): Map<string, { first: number; webhookIds: Set<string> }> {
  const byEvent = new Map<string, { first: number; webhookIds: Set<string> }>();
  for (const d of deliveries) {
    const e = byEvent.get(d.eventId);
    if (e) {
      e.first = Math.min(e.first, d.at);
      e.webhookIds.add(d.webhookId);
    } else byEvent.set(d.eventId, { first: d.at, webhookIds: new Set([d.webhookId]) });
  }
  return byEvent;
}

export function checkCriteria(input: CheckInput): Criterion[] {
  const { ledger, snap, timeline, workload } = input;
  const acked = ledger.acknowledged();
  const accepted = acceptedEntries(ledger, snap);
  const criteria: Criterion[] = [];
  const add = (name: string, value: number | string, pass: boolean, note?: string) => criteria.push({ name, value: String(value), pass, ...(note ? { note } : {}) });

  // Events.
  const lost = acked.filter((e) => !snap.stored.has(e.id)).length;
  add('acknowledged events lost', lost, lost === 0, `${acked.length} acknowledged`);
  // Ingest must come back: every event is acknowledged in the end (ambiguous failures retried with its id).
  const unacked = ledger.unacknowledged().length;
  const refused = ledger.entries.filter((e) => e.rejected !== null);
  add('events never acknowledged', unacked + refused.length, unacked + refused.length === 0, refused.length ? `${refused.length} refused: ${refused[0].rejected}` : undefined);
  const tableDuplicates = snap.storedRows - snap.stored.size;
  const streamDuplicates = Math.max(0, snap.streamMessages - accepted.length);
  add('stored duplicates (table / stream)', `${tableDuplicates} / ${streamDuplicates}`, tableDuplicates === 0 && streamDuplicates === 0);

  // Firings.
  const expected = expectedFirings(accepted.map((e) => e.n), workload);
  const labels = { webhook: 'per-event webhook', run: 'run-deployment', threshold: 'threshold for_each' } as const;
  for (const key of ['webhook', 'run', 'threshold'] as const) {
    const observed = snap.firings[key].count;
    const dup = key === 'threshold' ? 0 : observed - snap.firings[key].distinctEvents;
    add(`firings observed = expected (${labels[key]})`, `${observed} / ${expected[key]}`, observed === expected[key], dup > 0 ? `${dup} duplicate(s)` : undefined);
  }

  // Flow runs.
  const eventRuns = snap.runs.filter((r) => r.deployment === RUN_DEPLOYMENT);
  const distinctRuns = new Set(eventRuns.map((r) => r.n)).size;
  add('flow runs started by events = expected', `${eventRuns.length} / ${expected.run}`, eventRuns.length === expected.run && distinctRuns === eventRuns.length);
  const scheduled = scheduledRunCheck(snap, timeline);
  add('scheduled runs missing / duplicated', `${scheduled.missing} / ${scheduled.duplicated}`, scheduled.missing === 0 && scheduled.duplicated === 0, `${scheduled.slots} slots due during the load`);
  const stuck = snap.runs.filter((r) => shouldBeFinal(r, timeline.drainEnd) && !isFinal(r));
  const crashed = snap.runs.filter((r) => r.state === 'CRASHED').length;
  const retried = snap.runs.filter((r) => r.runCount > 1).length;
  add('flow runs stuck after the drain', stuck.length, stuck.length === 0, stuckNote(stuck, crashed, retried));

  // Deliveries.
  const byEvent = deliveriesByEvent(input.deliveries);
  const due = accepted.filter((e) => qualifies.webhook(e.n));
  // From when the restarted process or server is up again: how long it takes to start is reported apart.
  const restarted = timeline.readyAt ?? timeline.recoverAt;
  const deadline = restarted + input.deadlineSeconds * 1000;
  const dueBeforeRestart = due.filter((e) => (e.ackedAt ?? e.firstSentAt) <= restarted);
  const lateAtDeadline = dueBeforeRestart.filter((e) => (byEvent.get(e.id)?.first ?? Infinity) > deadline).length;
  add(`deliveries missing ${input.deadlineSeconds} s after the restart`, lateAtDeadline, lateAtDeadline === 0, `of ${dueBeforeRestart.length} due for events accepted before it`);
  const missing = due.filter((e) => !byEvent.has(e.id)).length;
  add('deliveries missing after the drain', missing, missing === 0, `${due.length} due`);
  const perWebhookId = new Map<string, number>();
  for (const d of input.deliveries) perWebhookId.set(d.webhookId, (perWebhookId.get(d.webhookId) ?? 0) + 1);
  const sameId = [...perWebhookId.values()].reduce((s, c) => s + c - 1, 0);
  add('duplicate deliveries, same webhook-id (allowed)', sameId, true, 'at-least-once: a receiver dedupes on webhook-id');
  const dueIds = new Set(due.map((e) => e.id));
  const otherId = [...byEvent.values()].reduce((s, e) => s + e.webhookIds.size - 1, 0);
  const unexpected = [...byEvent.keys()].filter((id) => !dueIds.has(id)).length;
  add('duplicate deliveries, different webhook-id', otherId + unexpected, otherId + unexpected === 0, unexpected ? `${unexpected} for events that should not fire` : undefined);
  const badSignatures = input.deliveries.filter((d) => !d.signatureValid).length;
  add('deliveries with an invalid signature', badSignatures, badSignatures === 0);

  // Services.
  const services = servicesBack(input);
  add('every service back without a manual restart', services.value, services.pass, services.note);
  return criteria;
}

function stuckNote(stuck: EngineSnapshot['runs'], crashed: number, retried: number): string {
  const states = new Map<string, number>();
  for (const r of stuck) states.set(r.state, (states.get(r.state) ?? 0) + 1);
  const parts = [...states].map(([s, c]) => `${c} ${s}`);
  if (crashed) parts.push(`${crashed} ended CRASHED`);
  if (retried) parts.push(`${retried} retried after a crash`);
  return parts.join(', ');
}

/** Every schedule slot from the first scheduled run to the end of the load has exactly one run. */
function scheduledRunCheck(snap: EngineSnapshot, timeline: Timeline): { slots: number; missing: number; duplicated: number } {
  const runs = snap.runs.filter((r) => r.deployment === SCHEDULED_DEPLOYMENT);
  if (runs.length === 0) return { slots: 0, missing: 1, duplicated: 0 };
  const step = SCHEDULE_INTERVAL_SECONDS * 1000;
  const times = runs.map((r) => r.expectedStart);
  const have = new Set(times);
  const first = Math.min(...times);
  let slots = 0;
  let missing = 0;
  for (let t = first; t <= timeline.loadEnd; t += step) {
    slots += 1;
    if (!have.has(t)) missing += 1;
  }
  return { slots, missing, duplicated: times.length - have.size };
}

/**
 * Every process is up at the end. A service the suite killed must have been started once (by the suite,
 * as a process manager would) and nothing else may have exited; after a dependency fault no process
 * may have exited at all.
 */
function servicesBack(input: CheckInput): { value: string; pass: boolean; note?: string } {
  const { supervisor, scenario } = input;
  const problems: string[] = [];
  for (const p of supervisor.processes.values()) {
    const unexpected = p.unexpectedExits;
    if (unexpected.length > 0) {
      const e = unexpected[0];
      problems.push(`${p.name} exited by itself (${e.code ?? e.signal}) at t=${((e.at - input.timeline.loadStart) / 1000).toFixed(1)} s: ${p.lastLines(1)[0] ?? ''}`.slice(0, 300));
    } else if (!p.running) problems.push(`${p.name} is not running`);
  }
  if (!input.apiHealthy) problems.push('GET /api/health is not 200');
  let restarted = '';
  if (scenario.kind === 'service') {
    const ready = input.timeline.readyAt;
    const after = ready === null ? null : lastWorkOf(scenario.target as ServiceProcessName, input);
    if (ready === null || after === null || after < ready) problems.push(`${scenario.target} did no work after its restart`);
    else restarted = `; ${scenario.target} restarted by the suite and working again`;
  }
  if (problems.length === 0) return { value: `all ${supervisor.processes.size} up${restarted}`, pass: true };
  return { value: `${problems.length} problem(s)`, pass: false, note: problems.join(' | ') };
}

/** When a service last did the work only it does (epoch ms), from what it left in the tables. */
function lastWorkOf(service: ServiceProcessName, input: CheckInput): number | null {
  const { snap, ledger } = input;
  const max = (xs: Iterable<number | null | undefined>) => {
    let m: number | null = null;
    for (const x of xs) if (x !== null && x !== undefined && (m === null || x > m)) m = x;
    return m;
  };
  switch (service) {
    case 'api':
      return max(ledger.ackTimes());
    case 'recorder':
      return max(snap.stored.values());
    case 'automations':
      return max(snap.firings.threshold.firedAt.values()) ?? max(snap.firings.webhook.firedAt.values());
    case 'webhooks':
      return max(input.deliveries.map((d) => d.at));
    case 'worker':
      return max(snap.runs.map((r) => r.endTime));
    case 'outbox':
      return snap.lastStateEventStored;
    case 'scheduler':
      return max(snap.runs.filter((r) => r.deployment === SCHEDULED_DEPLOYMENT).map((r) => r.created));
  }
}
