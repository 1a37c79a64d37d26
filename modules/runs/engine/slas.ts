import { deterministicUuid } from '../../../core/ids.ts';
import type { DeploymentSla } from '../../../schemas/deployment.ts';

/**
 * Deployment SLAs (issue 15), pure: what is violated now, from the facts a pass reads. Every violation has
 * a `since` computed from the data alone (a run's start + the allowed time, the last completion + the
 * period), so two replicas evaluating the same facts name the same violation and derive the same event ids.
 */

export interface SlaRunFact {
  id: string;
  name: string;
  /** ms: when it started running (RUNNING, CANCELLING), or when it was scheduled (SCHEDULED, PENDING). */
  at: number;
}

export interface SlaFacts {
  deployment: { id: string; created: number; slas: DeploymentSla[] };
  /** Runs in flight (RUNNING or CANCELLING) with their start times. */
  running: SlaRunFact[];
  /** Runs not started yet (SCHEDULED or PENDING) with their scheduled times. */
  waiting: SlaRunFact[];
  /** End time (ms) of the newest COMPLETED run, or null. */
  lastCompleted: number | null;
  /** Occurrence (ms) of the newest event of each name a freshness SLA watches (absent or null: never). */
  lastEvent: ReadonlyMap<string, number | null>;
}

export interface SlaViolation {
  /** `<sla index>|<subject>`: the subject is a run id or `deployment`. */
  field: string;
  index: number;
  type: DeploymentSla['type'];
  /** When the condition became violated (ms), from the data. */
  since: number;
  run: { id: string; name: string } | null;
  detail: string;
}

const subjectField = (index: number, subject: string) => `${index}|${subject}`;

/** Every SLA condition violated at `now`. */
export function evaluateSlas(facts: SlaFacts, now: number): SlaViolation[] {
  const out: SlaViolation[] = [];
  facts.deployment.slas.forEach((sla, index) => {
    const ms = sla.seconds * 1000;
    switch (sla.type) {
      case 'time-to-completion':
        for (const r of facts.running) {
          if (now - r.at >= ms) out.push({ field: subjectField(index, r.id), index, type: sla.type, since: r.at + ms, run: { id: r.id, name: r.name }, detail: `run ${r.name} has been running for more than ${sla.seconds} s` });
        }
        return;
      case 'lateness':
        for (const r of facts.waiting) {
          if (now - r.at >= ms) out.push({ field: subjectField(index, r.id), index, type: sla.type, since: r.at + ms, run: { id: r.id, name: r.name }, detail: `run ${r.name} has not started ${sla.seconds} s after its scheduled time` });
        }
        return;
      case 'frequency': {
        const from = facts.lastCompleted ?? facts.deployment.created;
        if (now - from >= ms) out.push({ field: subjectField(index, 'deployment'), index, type: sla.type, since: from + ms, run: null, detail: `no run completed in the last ${sla.seconds} s` });
        return;
      }
      case 'freshness': {
        const ev = facts.lastEvent.get(sla.event) ?? null;
        if (ev === null) return;
        const fresh = facts.lastCompleted !== null && facts.lastCompleted >= ev;
        if (!fresh && now - ev >= ms) {
          out.push({ field: subjectField(index, 'deployment'), index, type: sla.type, since: ev + ms, run: null, detail: `no run completed within ${sla.seconds} s of the latest ${sla.event} event` });
        }
        return;
      }
      default: {
        const never: never = sla;
        throw new Error(`unknown SLA ${JSON.stringify(never)}`);
      }
    }
  });
  return out;
}

/** What a pass must announce: violations new since the last pass, and remembered ones no longer violated. */
export function slaTransitions(remembered: ReadonlyMap<string, SlaViolation>, current: readonly SlaViolation[]): { violated: SlaViolation[]; resolved: SlaViolation[] } {
  const now = new Map(current.map((v) => [v.field, v]));
  return {
    violated: current.filter((v) => !remembered.has(v.field)),
    resolved: [...remembered.values()].filter((v) => !now.has(v.field)),
  };
}

/** The id of the event announcing a violation or its end: the same on every replica. */
export function slaEventId(deploymentId: string, v: Pick<SlaViolation, 'field' | 'since'>, kind: 'violated' | 'resolved'): string {
  return deterministicUuid(`sla/${deploymentId}/${v.field}/${v.since}/${kind}`);
}
