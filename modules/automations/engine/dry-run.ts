import { stateKeys } from '../../../core/names.ts';
import type { Automation, AutomationDocument } from '../../../schemas/automation.ts';
import type { ReflexEvent } from '../../../schemas/event.ts';
import { performAction, redact, type ActionDeps } from './actions.ts';
import type { BucketState } from './buckets.ts';
import { actionsOf, type ActionJobData } from './firing.ts';
import { eventOps, Evaluator, parseBucketStateKey, type Note, type Op } from './evaluator.ts';
import type { Firing } from './firing.ts';
import { failureReason, templateContext } from './outcomes.ts';
import { compilePlan, PlanIndex } from './plan.ts';
import { MemoryStateStore } from './state-store.ts';
import { parseFlowStateKey, type FlowDecision } from './flow-control.ts';

/**
 * Dry runs and backtests: the same evaluator as the live service, over an in-memory state store, with a
 * clock that follows event time. Proactive deadlines fire when the clock passes them (before the next
 * event, and up to `until` at the end). Actions are rendered through the same code that performs them,
 * with side effects captured instead of sent. Nothing is stored or sent.
 */

export const DRY_RUN_AUTOMATION_ID = '00000000-0000-4000-8000-000000000000';
const MAX_FIRINGS = 1000;
/** Evaluation steps (events and timer deadlines) a dry run takes at most. */
const MAX_STEPS = 200_000;
/** Wall-clock time a dry run may take; it yields to other requests as it goes. */
const DEFAULT_BUDGET_MS = 5000;
/** A dry run gives the event loop back at least this often, so a long one never stalls the process. */
const YIELD_AFTER_MS = 5;

export interface DryRunAction {
  index: number;
  type: string;
  /** `not-rendered`: the dry run spent its time budget before it reached this action. */
  status: 'would-run' | 'failed' | 'not-rendered';
  reason?: string;
  /** What would be sent: the forwarded job, the emitted event, the automation toggled. */
  rendered?: Record<string, unknown>;
}

export interface DryRunFiring extends Omit<Firing, 'key'> {
  actions: DryRunAction[];
}

export interface DryRunBucket {
  trigger_path: string;
  key: string;
  labels: Record<string, string>;
  fired: boolean;
  firings: number;
  count: number;
  reason: string;
}

export interface DryRunResult {
  firings: DryRunFiring[];
  buckets: DryRunBucket[];
  events_evaluated: number;
  truncated: boolean;
  /**
   * What flow control did with each firing, in order: released, debounced, suppressed, batched,
   * throttled or dropped, with the reason and when it was due (empty without flow_control).
   */
  flow_control: FlowDecision[];
  /** Why the run stopped early, when it did. */
  truncated_reason?: string;
}

export async function dryRun(
  doc: AutomationDocument,
  events: ReflexEvent[],
  options: { until?: number; id?: string; maxPayloadBytes: number; budgetMs?: number; variable?: (name: string) => Promise<unknown>; publicUrl?: string },
): Promise<DryRunResult> {
  const stamp = new Date().toISOString();
  const automation: Automation = { ...doc, enabled: true, id: options.id ?? DRY_RUN_AUTOMATION_ID, created: stamp, updated: stamp };
  const plan = compilePlan(automation);
  const index = new PlanIndex([plan]);
  const store = new MemoryStateStore();
  const evaluator = new Evaluator(store);
  const firings: Firing[] = [];
  const notes = new Map<string, Note>();
  const decisions: FlowDecision[] = [];
  const record = (r: { firings: Firing[]; notes: Note[]; decisions: FlowDecision[] }) => {
    firings.push(...r.firings);
    decisions.push(...r.decisions);
    for (const n of r.notes) notes.set(n.state_key, n);
  };

  const times = events.map((e) => Date.parse(e.occurred));
  let clock = times.reduce((min, t) => Math.min(min, t), times.length > 0 ? Infinity : Date.now());
  await evaluator.arm(plan, clock);

  // A proactive trigger over a long `until` has a deadline every `within`: the run is bounded in steps
  // and in time, and yields between steps, so one request can neither loop nor stall the API.
  const deadline = Date.now() + (options.budgetMs ?? DEFAULT_BUDGET_MS);
  let steps = 0;
  let stopped: string | undefined;
  let yielded = performance.now();
  const step = async (): Promise<boolean> => {
    steps += 1;
    if (performance.now() - yielded >= YIELD_AFTER_MS) {
      await new Promise((r) => setImmediate(r));
      yielded = performance.now();
    }
    if (firings.length >= MAX_FIRINGS) stopped ??= `stopped at ${MAX_FIRINGS} firings`;
    else if (steps > MAX_STEPS) stopped ??= `stopped after ${MAX_STEPS} evaluation steps`;
    else if (Date.now() > deadline) stopped ??= `stopped after ${options.budgetMs ?? DEFAULT_BUDGET_MS} ms at ${new Date(clock).toISOString()} of event time`;
    return stopped === undefined;
  };

  const runTimers = async (until: number) => {
    for (let next = store.nextTimer(); next !== null && next <= until; next = store.nextTimer()) {
      if (!(await step())) return;
      const due = await store.dueTimers(next, 1000);
      const ops: Op[] = [];
      for (const key of due) {
        if (parseFlowStateKey(key)) {
          ops.push({ kind: 'flow', seq: ops.length, at: next, plan, key });
          continue;
        }
        const ref = parseBucketStateKey(key);
        const leaf = ref && plan.leaves.find((l) => l.path === ref.path);
        if (leaf) ops.push({ kind: 'tick', seq: ops.length, at: next, plan, leaf, key });
      }
      record(await evaluator.run(ops, next, { notes: true }));
      clock = Math.max(clock, next);
    }
  };

  for (const [i, event] of events.entries()) {
    if (!(await step())) break;
    await runTimers(times[i]);
    clock = Math.max(clock, times[i]);
    record(await evaluator.run(eventOps(index, [event]), clock, { notes: true }));
  }
  await runTimers(options.until ?? Math.max(Date.now(), clock));

  const rendered: DryRunFiring[] = [];
  for (const f of firings.slice(0, MAX_FIRINGS)) {
    const { key: _key, ...rest } = f;
    const actions: DryRunAction[] = [];
    for (const [i, action] of actionsOf(automation, f).entries()) {
      // Rendering shares the run's budget: 1,000 firings of a template that runs to its 1 s limit would
      // otherwise hold the request for hours.
      if (Date.now() > deadline) {
        stopped ??= `stopped rendering after ${options.budgetMs ?? DEFAULT_BUDGET_MS} ms: later actions are not rendered`;
        actions.push({ index: i, type: action.type, status: 'not-rendered' });
        continue;
      }
      const job: ActionJobData = { firing: f, automation: { id: automation.id, name: automation.name, description: automation.description, tags: automation.tags }, action, index: i, action_types: [] };
      const captured: Record<string, unknown> = {};
      const deps: ActionDeps = {
        deliver: async (data) => {
          captured.job = redact(data);
          return 'webhook-deliveries';
        },
        command: async (data) => {
          captured.command = data;
          return { dry_run: true };
        },
        publish: async (event) => {
          captured.event = event;
        },
        setEnabled: async (id, enabled) => {
          captured.automation = { id, enabled };
          return true;
        },
        maxPayloadBytes: options.maxPayloadBytes,
        variable: options.variable,
        publicUrl: options.publicUrl,
      };
      try {
        const outcome = await performAction(deps, job, await templateContext(job, null));
        actions.push({ index: i, type: action.type, status: 'would-run', rendered: { ...outcome.detail, ...captured } });
      } catch (err) {
        actions.push({ index: i, type: action.type, status: 'failed', reason: failureReason(err) ?? (err as Error).message });
      }
    }
    rendered.push({ ...rest, actions });
  }

  const states = new Map(store.entries());
  const buckets: DryRunBucket[] = [];
  for (const n of notes.values()) {
    const s = states.get(n.state_key) as Partial<BucketState> | undefined;
    const labelsKey = JSON.stringify(n.labels);
    const count = firings.filter((f) => f.trigger_path === n.trigger_path && JSON.stringify(f.triggering_labels) === labelsKey).length;
    buckets.push({
      trigger_path: n.trigger_path,
      key: stateKeys.isComposite(n.state_key) ? '' : labelsKey === '{}' ? '' : labelsKey,
      labels: n.labels,
      fired: count > 0,
      firings: count,
      count: typeof s?.count === 'number' ? Math.max(0, s.count) : 0,
      reason: n.note,
    });
  }
  const truncated = stopped !== undefined;
  return { firings: rendered, buckets, events_evaluated: events.length, truncated, flow_control: decisions.slice(0, MAX_FIRINGS * 10), ...(truncated ? { truncated_reason: stopped } : {}) };
}
