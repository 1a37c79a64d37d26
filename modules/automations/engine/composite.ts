import type { ReflexEvent } from '../../../schemas/event.ts';

/**
 * Compound and sequence progress, pure. Like Prefect, only the latest firing of each child is kept and
 * the state resets when the parent fires. Unlike Prefect, `within` is measured on event time (the
 * children's firing times in `occurred` terms), so replayed past events give the same result as live ones.
 */

export interface ChildFiring {
  at: number;
  key: string;
  /** Only the firing being applied carries its event; stored children do not (small state). */
  event?: ReflexEvent | null;
}

export interface CompositeState {
  children: Record<string, ChildFiring>;
  seq: number;
}

export interface CompositeParams {
  kind: 'compound' | 'sequence';
  /** Children count needed: any = 1, all = n, or a number. */
  need: number;
  size: number;
  withinMs: number;
}

export interface CompositeResult {
  state: CompositeState;
  fired: { discriminator: string; children: ChildFiring[] } | null;
  note: string;
}

export function emptyComposite(): CompositeState {
  return { children: {}, seq: 0 };
}

export function applyChildFiring(p: CompositeParams, prev: CompositeState, index: number, firing: ChildFiring): CompositeResult {
  const children: Record<string, ChildFiring> = { ...prev.children, [index]: { at: firing.at, key: firing.key } };
  if (p.withinMs > 0) {
    // Keep only children within `within` of the newest one (event time, both directions).
    const newest = Math.max(...Object.values(children).map((c) => c.at));
    for (const [k, c] of Object.entries(children)) if (c.at < newest - p.withinMs) delete children[k];
  }
  const state: CompositeState = { children, seq: prev.seq };
  const present = Object.keys(children).length;
  if (p.kind === 'compound') {
    if (present < p.need) return { state, fired: null, note: `${present} of ${p.need} required triggers fired` };
  } else {
    for (let i = 0; i < p.size; i++) {
      if (!children[i]) return { state, fired: null, note: `waiting for step ${i} of the sequence` };
      if (i > 0 && children[i].at < children[i - 1].at) {
        return { state, fired: null, note: `step ${i} fired before step ${i - 1}; waiting for the steps in order` };
      }
    }
  }
  const ordered = Object.keys(children)
    .map(Number)
    .sort((a, b) => a - b)
    .map((i) => children[String(i)]);
  return {
    state: { children: {}, seq: prev.seq + 1 },
    fired: { discriminator: `${prev.seq}-${ordered.map((c) => c.key).join(',')}`, children: ordered },
    note: 'fired',
  };
}
