/**
 * The load generator's record of every event it sent: the id it chose, the sequence number the
 * automations read, and whether (and when) the API acknowledged it with a 202. The checker compares the
 * engine's tables with this, so it is the suite's source of truth.
 */

export interface LedgerEntry {
  id: string;
  n: number;
  occurred: string;
  firstSentAt: number;
  /** When the 202 came (epoch ms); null while unacknowledged. */
  ackedAt: number | null;
  attempts: number;
  /** A 4xx other than 408/429: the event is refused and not retried (a suite bug if it happens). */
  rejected: string | null;
}

/** How an attempt ended, for the report. */
export type AttemptOutcome = 'accepted' | 'unavailable' | 'server_error' | 'timeout' | 'connection' | 'rejected';

export interface AttemptStats {
  count: number;
  /** Milliseconds from sending to the answer (or the error), for the percentile in the report. */
  durations: number[];
}

export class Ledger {
  readonly entries: LedgerEntry[] = [];
  readonly attempts = new Map<AttemptOutcome, AttemptStats>();
  /** 5xx status codes seen, with the error code of the body, e.g. `503 dependency_unavailable`. */
  readonly failureCodes = new Map<string, number>();

  add(entry: LedgerEntry): void {
    this.entries.push(entry);
  }

  recordAttempt(outcome: AttemptOutcome, ms: number, detail?: string): void {
    let s = this.attempts.get(outcome);
    if (!s) this.attempts.set(outcome, (s = { count: 0, durations: [] }));
    s.count += 1;
    s.durations.push(ms);
    if (detail) this.failureCodes.set(detail, (this.failureCodes.get(detail) ?? 0) + 1);
  }

  acknowledged(): LedgerEntry[] {
    return this.entries.filter((e) => e.ackedAt !== null);
  }

  unacknowledged(): LedgerEntry[] {
    return this.entries.filter((e) => e.ackedAt === null && e.rejected === null);
  }

  /** Acknowledgement times in order, for gaps in ingest. */
  ackTimes(): number[] {
    return this.entries.flatMap((e) => (e.ackedAt === null ? [] : [e.ackedAt])).sort((a, b) => a - b);
  }
}
