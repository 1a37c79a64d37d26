import jsonLogic from 'json-logic-js';
import type { ReflexEvent } from '../../../schemas/event.ts';
import type { EventTrigger, ResourceSpec } from '../../../schemas/automation.ts';

/**
 * Pure matching of events against event triggers: label patterns, related resources, event names,
 * json-logic conditions and for_each bucketing keys. Everything here is compiled once per automation
 * load so the per-event cost is a few closure calls.
 */

export type StringTest = (value: string) => boolean;

/** `*` matches any run of characters (dots included); the whole value must match. */
export function globTest(pattern: string): StringTest {
  if (!pattern.includes('*')) return (v) => v === pattern;
  if (pattern === '*') return () => true;
  const star = pattern.indexOf('*');
  if (star === pattern.length - 1) {
    const prefix = pattern.slice(0, -1);
    return (v) => v.startsWith(prefix);
  }
  const re = new RegExp(`^${pattern.split('*').map(escapeRegExp).join('.*')}$`, 's');
  return (v) => re.test(v);
}

/**
 * A list of patterns for one label: positive patterns are OR-ed, negated ones are AND-ed on top. This is
 * where we deliberately improve on Prefect, where `["dev-*", "!dev-x"]` matched nearly everything
 * because every pattern was OR-ed: here it means "dev-* but not dev-x".
 */
export function labelListTest(patterns: string[]): StringTest {
  const positive = patterns.filter((p) => !p.startsWith('!')).map(globTest);
  const negative = patterns.filter((p) => p.startsWith('!')).map((p) => globTest(p.slice(1)));
  return (v) => (positive.length === 0 || positive.some((t) => t(v))) && !negative.some((t) => t(v));
}

export type ResourceTest = (labels: Record<string, string>) => boolean;

/** All labels of the spec must match (AND); a missing label never matches, not even a negated pattern. */
export function resourceTest(spec: ResourceSpec): ResourceTest {
  const tests = Object.entries(spec).map(([label, p]) => [label, labelListTest(Array.isArray(p) ? p : [p])] as const);
  if (tests.length === 0) return () => true;
  return (labels) => {
    for (const [label, test] of tests) {
      const v = labels[label];
      if (v === undefined || !test(v)) return false;
    }
    return true;
  };
}

/** Each spec must be satisfied by at least one related resource (possibly different ones). */
export function relatedTest(specs: ResourceSpec | ResourceSpec[]): (related: Record<string, string>[]) => boolean {
  const list = (Array.isArray(specs) ? specs : [specs]).filter((s) => Object.keys(s).length > 0).map(resourceTest);
  if (list.length === 0) return () => true;
  return (related) => list.every((t) => related.some((r) => t(r)));
}

/** Event-name patterns: globs, OR-ed; `!name` entries exclude (a gap Prefect leaves open). Empty = none. */
export function eventNameTest(patterns: string[]): StringTest | undefined {
  if (patterns.length === 0) return undefined;
  return labelListTest(patterns);
}

/** Evaluates a json-logic rule on `{ event }`; a rule that throws counts as false. */
export function conditionTest(rule: unknown): ((event: ReflexEvent) => boolean) | undefined {
  if (rule === undefined) return undefined;
  return (event) => {
    try {
      return jsonLogic.truthy(jsonLogic.apply(rule as jsonLogic.RulesLogic, { event }));
    } catch {
      return false;
    }
  };
}

/** Reads one for_each path from an event: a primary label, `related:<role>:<label>`, or `payload.<path>`. */
export function readLabelPath(event: ReflexEvent, path: string): string {
  if (path.startsWith('related:')) {
    const [, role, label] = path.split(':');
    const r = event.related.find((x) => x['reflex.resource.role'] === role);
    return r?.[label] ?? '';
  }
  if (path.startsWith('payload.')) {
    let cur: unknown = event.payload;
    for (const part of path.slice('payload.'.length).split('.')) {
      if (cur === null || typeof cur !== 'object') return '';
      cur = (cur as Record<string, unknown>)[part];
    }
    if (cur === undefined || cur === null) return '';
    return typeof cur === 'string' ? cur : JSON.stringify(cur);
  }
  return event.resource[path] ?? '';
}

export interface Bucketing {
  /** Stable key of the bucket: the for_each values in label-name order (Prefect's order). */
  key: string;
  /** for_each path -> value, as reported in `triggering_labels`. */
  labels: Record<string, string>;
}

/** Computes the bucket of an event; a missing label is "" so all such events share one bucket. */
const NO_BUCKET: Bucketing = Object.freeze({ key: '', labels: Object.freeze({}) as Record<string, string> });
const sortedPaths = new WeakMap<string[], string[]>();

export function bucketOf(forEach: string[], event: ReflexEvent): Bucketing {
  if (forEach.length === 0) return NO_BUCKET;
  let sorted = sortedPaths.get(forEach);
  if (!sorted) sortedPaths.set(forEach, (sorted = [...forEach].sort()));
  const labels: Record<string, string> = {};
  for (const p of sorted) labels[p] = readLabelPath(event, p);
  return { key: JSON.stringify(sorted.map((p) => labels[p])), labels };
}

/** The bucket key of labels produced by bucketOf (timers only keep the labels). */
export function bucketKeyOfLabels(forEach: string[], labels: Record<string, string>): string {
  if (forEach.length === 0) return '';
  return JSON.stringify([...forEach].sort().map((p) => labels[p] ?? ''));
}

/** What an event means for one event trigger. */
export interface TriggerMatch {
  /** The event arms the trigger (it is in `after`). */
  arms: boolean;
  /** The event counts (it is in `expect`, or expect is empty). */
  counts: boolean;
}

export interface CompiledEventTrigger {
  /** Null when the event is not covered by the trigger at all. */
  test(event: ReflexEvent): TriggerMatch | null;
  /** Exact event names the trigger can react to, or null when it uses wildcards (used to index). */
  exactNames: string[] | null;
  /** The trigger names engine events (`reflex.*`) explicitly, so wildcards may match them (see PlanIndex). */
  namesEngineEvents: boolean;
}

/** `*`, `**`: matches any value at all. */
export function isCatchAll(pattern: string): boolean {
  return /^\*+$/.test(pattern);
}

/** A positive pattern whose literal start is `reflex.`: it is written for the engine's own events. */
function namesEngine(pattern: string): boolean {
  return !pattern.startsWith('!') && pattern.split('*')[0].startsWith('reflex.');
}

/** Compiles the filters of one event trigger into a single test. */
export function compileEventTrigger(t: EventTrigger): CompiledEventTrigger {
  const matchResource = resourceTest(t.match);
  const matchRelated = relatedTest(t.match_related);
  const expect = eventNameTest(t.expect);
  const after = eventNameTest(t.after);
  const condition = conditionTest(t.condition);
  const names = [...t.expect, ...t.after];
  const exact = t.expect.length > 0 && names.every((n) => !n.includes('*') && !n.startsWith('!'));
  const idPatterns = t.match['reflex.resource.id'];
  const namesEngineEvents = names.some(namesEngine) || (idPatterns !== undefined && (Array.isArray(idPatterns) ? idPatterns : [idPatterns]).some(namesEngine));
  return {
    exactNames: exact ? [...new Set(names)] : null,
    namesEngineEvents,
    test(event) {
      const arms = after ? after(event.event) : false;
      const counts = expect ? expect(event.event) : true;
      if (!arms && !counts) return null;
      if (!matchResource(event.resource) || !matchRelated(event.related)) return null;
      if (condition && !condition(event)) return null;
      return { arms, counts };
    },
  };
}

function escapeRegExp(s: string): string {
  return s.replace(/[.+?^${}()|[\]\\]/g, '\\$&');
}
