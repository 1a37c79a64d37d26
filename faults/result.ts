/** What one scenario produced: the shape of the table and of `--json`. */

/** A pass/fail criterion with the value measured. */
export interface Criterion {
  name: string;
  value: string;
  pass: boolean;
  note?: string;
}

/** A recovery time or other figure, reported but not judged. */
export interface Measure {
  name: string;
  /** Seconds (null: did not happen in the scenario). */
  seconds: number | null;
  note?: string;
}

/** Wall-clock marks of one scenario (epoch ms). */
export interface Timeline {
  loadStart: number;
  faultAt: number;
  /** When the restart began (for the receiver: when it answers 2xx again). */
  recoverAt: number;
  /** When what was restarted accepted work again; null when it did not come back. */
  readyAt: number | null;
  loadEnd: number;
  drainEnd: number;
  /** How long starting every engine process took, in ms. */
  servicesStartMs: number;
}

export interface ScenarioResult {
  scenario: string;
  description: string;
  namespace: string;
  passed: boolean;
  criteria: Criterion[];
  recovery: Measure[];
  /** Counts behind the criteria (events sent, attempts by outcome, service start times...). */
  info: Record<string, unknown>;
  timeline?: Timeline;
  /** Set when the scenario could not run to its end (its criteria are then incomplete). */
  error?: string;
  logDir?: string;
}

export const seconds = (ms: number | null | undefined): number | null => (ms === null || ms === undefined ? null : Math.round(ms / 100) / 10);
