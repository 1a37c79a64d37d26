import { z } from 'zod';
import { StateTypeSchema } from './flow-run.ts';
import { RetryPolicySchema } from './common.ts';
import { SecretNameSchema } from './secret.ts';

/**
 * The automation document: what users write in `automations/*.json` and send to `/api/automations`.
 * Field names follow Prefect 3's automations where the concept is the same. docs/automations.md is the
 * reference for every field.
 */

/** What a stored signing secret reads as; sent back in an update, it keeps the stored secret. */
export const SECRET_MASK = '********';

/**
 * Upper bounds of an automation document, checked at save time so that no document can make evaluation
 * (live, dry run or backtest) loop, overflow a date or hold unbounded state. docs/automations.md lists them.
 */
export const AUTOMATION_LIMITS = {
  /** A window shorter than a second would fire back to back without the clock advancing. */
  minWithinSeconds: 1,
  /** 31 days: trigger state lives in Redis and is kept at least twice the window. */
  maxWithinSeconds: 31 * 24 * 3600,
  maxThreshold: 1_000_000,
  maxChildTriggers: 32,
  maxTriggerDepth: 8,
  maxPatterns: 64,
  maxLabels: 64,
  maxForEach: 8,
  maxActions: 32,
  maxConditionDepth: 64,
  maxConditionNodes: 10_000,
  maxTemplateLength: 64 * 1024,
  maxRetryDelaySeconds: 3600,
  // Flow control (debounce, throttle, rate limit, batch).
  /** Longest flow-control period, timeout or max_delay: its state lives in Redis like trigger state. */
  maxFlowPeriodSeconds: 31 * 24 * 3600,
  /** Ceiling of `max_events` / `max_size` / `limit`; REFLEX_FLOW_CONTROL_MAX_BATCH lowers the batch bound. */
  maxFlowEvents: 10_000,
  maxFlowLimit: 10_000,
  /** Throttled actions waiting per key: state is bounded, so the excess past this is refused (recorded). */
  maxThrottleQueue: 1_000,
  maxFlowKeyLength: 1024,
} as const;
const L = AUTOMATION_LIMITS;

/** A window length in seconds: 0 (none) or between the minimum and maximum. */
const WithinSchema = z
  .number()
  .min(0)
  .max(L.maxWithinSeconds, `at most ${L.maxWithinSeconds} seconds (31 days)`)
  .refine((w) => w === 0 || w >= L.minWithinSeconds, `0 (no window) or at least ${L.minWithinSeconds} second`);

/** One pattern or a list of them (OR-ed). `*` matches any run of characters; a leading `!` negates. */
const LabelPatternSchema = z.union([z.string().max(1024), z.array(z.string().max(1024)).min(1).max(L.maxPatterns)]);

export const ResourceSpecSchema = z
  .record(z.string().min(1).max(256), LabelPatternSchema)
  .refine((r) => Object.keys(r).length <= L.maxLabels, `at most ${L.maxLabels} labels`)
  .describe('Label name -> pattern or list of patterns; all labels must match (AND).');
export type ResourceSpec = z.output<typeof ResourceSpecSchema>;

const EventNamePatternSchema = z
  .string()
  .min(1)
  .max(256)
  .regex(/^!?[A-Za-z0-9_*-]+(?:\.[A-Za-z0-9_*-]+)*$/, 'must be a dotted event name, optionally with * wildcards and a leading !');

/** `reflex.resource.id`-style label of the primary resource, `related:<role>:<label>`, or `payload.<path>`. */
const ForEachPathSchema = z
  .string()
  .min(1)
  .max(512)
  .regex(/^(?:related:[^:]+:[^:]+|payload\.[^.]+(?:\.[^.]+)*|[^:]+)$/, 'must be a label name, related:<role>:<label> or payload.<path>');

export const JSON_LOGIC_OPERATORS: ReadonlySet<string> = new Set([
  '==', '===', '!=', '!==', '>', '>=', '<', '<=', '!!', '!', '%', '+', '-', '*', '/', 'min', 'max',
  'in', 'cat', 'substr', 'merge', 'var', 'missing', 'missing_some', 'if', '?:', 'and', 'or',
  'map', 'filter', 'reduce', 'all', 'none', 'some',
]);

/**
 * Walks a json-logic rule and reports every operator json-logic-js does not know (or that has a side
 * effect, like `log`), with the path of the offending key, so a bad rule is refused on save.
 */
export function jsonLogicIssues(rule: unknown, path: (string | number)[] = []): { path: (string | number)[]; message: string }[] {
  const issues: { path: (string | number)[]; message: string }[] = [];
  let nodes = 0;
  // Iterative, with a depth bound: a rule nested thousands deep must be refused, not overflow the stack.
  const stack: { rule: unknown; path: (string | number)[]; depth: number }[] = [{ rule, path, depth: 0 }];
  while (stack.length > 0 && issues.length < 20) {
    const { rule: r, path: p, depth } = stack.pop()!;
    if (++nodes > L.maxConditionNodes) {
      issues.push({ path, message: `a condition may hold at most ${L.maxConditionNodes} values` });
      break;
    }
    if (depth > L.maxConditionDepth) {
      issues.push({ path: p, message: `a condition may nest at most ${L.maxConditionDepth} levels` });
      continue;
    }
    if (Array.isArray(r)) {
      r.forEach((x, i) => stack.push({ rule: x, path: [...p, i], depth: depth + 1 }));
      continue;
    }
    if (r === null || typeof r !== 'object') continue;
    const keys = Object.keys(r);
    if (keys.length !== 1) {
      issues.push({ path: p, message: `a json-logic operation is an object with exactly one operator key; found ${keys.length} keys` });
      continue;
    }
    const op = keys[0];
    if (!JSON_LOGIC_OPERATORS.has(op)) {
      issues.push({ path: [...p, op], message: `unknown json-logic operator "${op}"; known: ${[...JSON_LOGIC_OPERATORS].join(' ')}` });
      continue;
    }
    stack.push({ rule: (r as Record<string, unknown>)[op], path: [...p, op], depth: depth + 1 });
  }
  return issues;
}

export const PostureSchema = z.enum(['Reactive', 'Proactive']);

export const EventTriggerSchema = z
  .object({
    type: z.literal('event'),
    match: ResourceSpecSchema.default({}).describe('Labels of the primary resource that must match.'),
    match_related: z
      .union([ResourceSpecSchema, z.array(ResourceSpecSchema)])
      .default({})
      .describe('Each spec must be satisfied by at least one related resource (use reflex.resource.role to pick a role).'),
    after: z.array(EventNamePatternSchema).max(L.maxPatterns).default([]).describe('Event names that arm a bucket before counting starts.'),
    expect: z.array(EventNamePatternSchema).max(L.maxPatterns).default([]).describe('Event names that count; empty = any event passing the filters.'),
    condition: z.unknown().optional().describe('json-logic rule evaluated on { event }; the event counts only when truthy.'),
    for_each: z.array(ForEachPathSchema).max(L.maxForEach).default([]).describe('Label paths splitting counting into independent buckets.'),
    posture: PostureSchema.default('Reactive'),
    threshold: z.number().int().min(0).max(L.maxThreshold).default(1),
    within: WithinSchema.default(0).describe('Window in seconds (event time); 0 = no window, else 1 s to 31 days.'),
  })
  .strict();

export interface EventTrigger extends z.output<typeof EventTriggerSchema> {}
export interface CompoundTrigger {
  type: 'compound';
  triggers: Trigger[];
  require: 'any' | 'all' | number;
  within: number;
}
export interface SequenceTrigger {
  type: 'sequence';
  triggers: Trigger[];
  within: number;
}
export type Trigger = EventTrigger | CompoundTrigger | SequenceTrigger | MetricTrigger;

// ---- metric triggers (issue 15, run control): a trigger over Reflex's own measures ----

export const METRIC_NAMES = ['flow-run-success-rate', 'flow-run-duration', 'flow-run-lateness', 'flow-run-count', 'webhook-failure-rate'] as const;
export const MetricTriggerSchema = z
  .object({
    type: z.literal('metric'),
    metric: z
      .enum(METRIC_NAMES)
      .describe('`flow-run-success-rate` (0..1, COMPLETED of the runs that ended), `flow-run-duration` (seconds, the `percentile` of runs that ended), `flow-run-lateness` (seconds, the `percentile` of how late runs started), `flow-run-count` (runs in `states` now, or that entered them in the range), `webhook-failure-rate` (0..1, failed of the deliveries that ended).'),
    deployment: z.string().min(1).max(256).optional().describe('Scope: a deployment id or name.'),
    flow: z.string().min(1).max(256).optional().describe('Scope: a flow name.'),
    work_pool: z.string().min(1).max(256).optional().describe('Scope: a work pool.'),
    automation: z.string().min(1).max(256).optional().describe('Scope: the automation (id) whose actions created the runs or deliveries.'),
    range: z.number().int().min(10).max(31 * 24 * 3600).default(3600).describe('Sliding range in seconds the measure is computed over (10 s to 31 days).'),
    percentile: z.number().gt(0).max(100).default(95).describe('For duration and lateness: which percentile.'),
    states: z.array(z.enum(['SCHEDULED', 'PENDING', 'RUNNING', 'PAUSED', 'CANCELLING', 'COMPLETED', 'FAILED', 'CANCELLED', 'CRASHED'])).min(1).max(9).default(['FAILED', 'CRASHED']).describe('For flow-run-count: the state types counted.'),
    operator: z.enum(['<', '<=', '>', '>=']).describe('The condition is `measure <operator> threshold`.'),
    threshold: z.number().finite(),
    min_samples: z.number().int().min(1).max(1_000_000).default(1).describe('Rates and percentiles need this many runs (or deliveries) in the range; fewer: outside the condition.'),
  })
  .strict()
  .describe('Fires once when the measure enters the condition and resolves when it leaves it, evaluated every few seconds.');
export type MetricTrigger = z.output<typeof MetricTriggerSchema>;

const CompoundTriggerSchema = z
  .object({
    type: z.literal('compound'),
    get triggers() {
      return z.array(TriggerSchema).min(1).max(L.maxChildTriggers);
    },
    require: z.union([z.enum(['any', 'all']), z.number().int().min(1).max(L.maxChildTriggers)]).default('all'),
    within: WithinSchema.default(0).describe('Seconds (event time) all required children must fire within; 0 = no limit.'),
  })
  .strict();

const SequenceTriggerSchema = z
  .object({
    type: z.literal('sequence'),
    get triggers() {
      return z.array(TriggerSchema).min(1).max(L.maxChildTriggers);
    },
    within: WithinSchema.default(0).describe('Seconds (event time) the whole sequence must fit in; 0 = no limit.'),
  })
  .strict();

export const TriggerSchema: z.ZodType<Trigger, unknown> = z.lazy(() =>
  z.discriminatedUnion('type', [EventTriggerSchema, CompoundTriggerSchema, SequenceTriggerSchema, MetricTriggerSchema]),
);

// ---- actions ----

const TemplateSchema = z.string().max(L.maxTemplateLength).describe('A Liquid template (rendered with event, automation, trigger, flow_run).');
const DeploymentRef = {
  deployment_id: z.string().min(1).optional(),
  deployment_name: z.string().min(1).optional().describe('`<flow>/<deployment>`, e.g. `etl/daily`.'),
};

const RunDeploymentActionSchema = z
  .object({
    type: z.literal('run-deployment'),
    ...DeploymentRef,
    parameters: z.record(z.string(), z.unknown()).default({}).describe('String values are templates; `{{ x }}` alone keeps x\'s type.'),
    tags: z.array(z.string()).default([]),
    // run control (issue 15)
    priority: z.number().int().min(-1000).max(1000).optional().describe('Priority of the run (-1000..1000, higher first); default: the deployment\'s.'),
    concurrency_key: TemplateSchema.optional().describe('Template over the triggering event: the run\'s concurrency key, instead of the deployment\'s `concurrency.key` (needs the deployment\'s `concurrency`).'),
  })
  .strict();

/** `{"secret": "NAME"}`: the value of a stored secret, filled in by the webhook service at send time. */
export const SecretRefSchema = z
  .object({ secret: SecretNameSchema })
  .strict()
  .describe('A stored secret by name (`reflex secret set`), filled in at send time; the automation must be granted it.');
export type SecretRef = z.output<typeof SecretRefSchema>;

const SigningSecretSchema = z.union([z.string().regex(/^whsec_[A-Za-z0-9+/=]+$/, 'must be whsec_<base64>'), z.literal(SECRET_MASK), SecretRefSchema]);

const CallWebhookActionSchema = z
  .object({
    type: z.literal('call-webhook'),
    url: z.union([TemplateSchema.min(1), SecretRefSchema]),
    method: z.enum(['GET', 'POST', 'PUT', 'PATCH', 'DELETE']).default('POST'),
    headers: z.record(z.string(), z.union([TemplateSchema, SecretRefSchema])).default({}),
    body: TemplateSchema.optional().describe('Defaults to the triggering event as JSON.'),
    secret: SigningSecretSchema
      .optional()
      .describe(`A Standard Webhooks signing secret. Never returned: reads show "${SECRET_MASK}", and sending "${SECRET_MASK}" back keeps the stored one.`),
    timeout_seconds: z.number().positive().max(300).default(10),
    retry: RetryPolicySchema.default({ attempts: 8, delay_seconds: 5 }),
    format: z.enum(['json', 'cloudevent']).default('json'),
  })
  .strict();

const EmitEventActionSchema = z
  .object({
    type: z.literal('emit-event'),
    event: z
      .object({
        event: TemplateSchema.min(1),
        resource: z.record(z.string(), TemplateSchema),
        related: z.array(z.record(z.string(), TemplateSchema)).default([]),
        payload: z.record(z.string(), z.unknown()).default({}),
      })
      .strict(),
  })
  .strict();

const AutomationTargetActionSchema = z
  .object({
    type: z.enum(['pause-automation', 'resume-automation']),
    automation_id: z.string().min(1).optional().describe('Omitted: the automation named by the triggering event, else this one.'),
  })
  .strict();

const DeploymentTargetActionSchema = z
  .object({ type: z.enum(['pause-deployment', 'resume-deployment']), ...DeploymentRef })
  .strict()
  .describe('Without deployment_id/deployment_name the deployment is inferred from the triggering event.');

const CancelFlowRunActionSchema = z.object({ type: z.literal('cancel-flow-run'), message: z.string().optional() }).strict();

const ChangeFlowRunStateActionSchema = z
  .object({
    type: z.literal('change-flow-run-state'),
    state: z.object({ type: StateTypeSchema, name: z.string().optional(), message: z.string().optional() }).strict(),
    force: z.boolean().default(false),
  })
  .strict();

const DoNothingActionSchema = z.object({ type: z.literal('do-nothing') }).strict();

// ---- send-notification (issue 13) ----

const NotificationDestinationSchema = z.discriminatedUnion('type', [
  z.object({ type: z.literal('slack'), url: SecretRefSchema.describe('The Slack incoming-webhook URL, as a secret.') }).strict(),
  z.object({ type: z.literal('teams'), url: SecretRefSchema.describe('The Microsoft Teams (Workflows) webhook URL, as a secret.') }).strict(),
  z.object({ type: z.literal('discord'), url: SecretRefSchema.describe('The Discord webhook URL, as a secret.') }).strict(),
  z
    .object({
      type: z.literal('pagerduty'),
      routing_key: SecretRefSchema.describe('The integration (routing) key of the PagerDuty service, as a secret.'),
      url: TemplateSchema.min(1).default('https://events.pagerduty.com/v2/enqueue').describe('The Events API v2 endpoint.'),
      severity: z.enum(['critical', 'error', 'warning', 'info']).default('error'),
      source: TemplateSchema.default('reflex'),
    })
    .strict(),
  z
    .object({
      type: z.literal('webhook'),
      url: z.union([TemplateSchema.min(1), SecretRefSchema]),
      headers: z.record(z.string(), z.union([TemplateSchema, SecretRefSchema])).default({}),
      secret: SigningSecretSchema.optional().describe('Standard Webhooks signing secret (a whsec_ value or a secret reference).'),
    })
    .strict(),
]);
export type NotificationDestination = z.output<typeof NotificationDestinationSchema>;

const SendNotificationActionSchema = z
  .object({
    type: z.literal('send-notification'),
    destination: NotificationDestinationSchema,
    title: TemplateSchema.optional().describe('Replaces the default title ("Flow run <name> <state>").'),
    message: TemplateSchema.optional().describe("Replaces the default message (the state's message)."),
    body: TemplateSchema.optional().describe("Replaces the whole JSON body the destination's default builds."),
    timeout_seconds: z.number().positive().max(300).default(10),
    retry: RetryPolicySchema.default({ attempts: 8, delay_seconds: 5 }),
  })
  .strict();

export const ActionSchema = z
  .discriminatedUnion('type', [
    RunDeploymentActionSchema,
    CallWebhookActionSchema,
    EmitEventActionSchema,
    AutomationTargetActionSchema,
    DeploymentTargetActionSchema,
    CancelFlowRunActionSchema,
    ChangeFlowRunStateActionSchema,
    DoNothingActionSchema,
    SendNotificationActionSchema,
  ])
  .superRefine((a, ctx) => {
    if (a.type === 'run-deployment' && !a.deployment_id && !a.deployment_name) {
      ctx.addIssue({ code: 'custom', path: ['deployment_name'], message: 'deployment_id or deployment_name is required' });
    }
  });
export type Action = z.output<typeof ActionSchema>;
export type ActionType = Action['type'];

// ---- flow control (what an automation's actions start) ----

/** A duration in seconds for flow control: more than 0, at most 31 days. */
const FlowPeriodSchema = z
  .number()
  .gt(0, 'must be more than 0 seconds')
  .max(L.maxFlowPeriodSeconds, `at most ${L.maxFlowPeriodSeconds} seconds (31 days)`);

/**
 * What splits flow control into independent keys: a Liquid template (`{{ event.resource.customer }}`,
 * output only, no tags) or a json-logic expression, both over `{ event }`. Omitted: one key for the automation.
 */
export const FlowKeySchema = z
  .union([z.string().min(1).max(L.maxFlowKeyLength), z.record(z.string(), z.unknown())])
  .describe('A Liquid template (output only, no {% %} tags) or a json-logic expression over { event }; its value names the key.');

const DebounceSchema = z
  .object({
    key: FlowKeySchema.optional(),
    period: FlowPeriodSchema.describe('Seconds without a matching event that close the window.'),
    max_delay: FlowPeriodSchema.optional().describe('Seconds after the first event the window closes at the latest, even under a steady stream.'),
    mode: z.enum(['trailing', 'leading']).default('trailing').describe('trailing: act when the window closes, with every event; leading: act on the first event, suppress the rest of the window.'),
    max_events: z.number().int().min(1).max(L.maxFlowEvents).default(100).describe('Events handed to the action; reaching it closes the window at once.'),
  })
  .strict();

const ThrottleSchema = z
  .object({
    key: FlowKeySchema.optional(),
    limit: z.number().int().min(1, 'must be at least 1').max(L.maxFlowLimit),
    period: FlowPeriodSchema,
    burst: z.number().int().min(1, 'must be at least 1').max(L.maxFlowLimit).optional().describe('How many of the limit may start back to back; default the limit (fewer spaces them evenly).'),
  })
  .strict();

const RateLimitSchema = z
  .object({
    key: FlowKeySchema.optional(),
    limit: z.number().int().min(1, 'must be at least 1').max(L.maxFlowLimit),
    period: FlowPeriodSchema,
  })
  .strict();

const BatchSchema = z
  .object({
    key: FlowKeySchema.optional(),
    max_size: z.number().int().min(1, 'must be at least 1').max(L.maxFlowEvents, `at most ${L.maxFlowEvents} (REFLEX_FLOW_CONTROL_MAX_BATCH may lower it)`),
    timeout: FlowPeriodSchema.describe('Seconds after the first event of a batch that release it, full or not.'),
  })
  .strict();

export const FlowControlSchema = z
  .object({
    debounce: DebounceSchema.optional(),
    throttle: ThrottleSchema.optional(),
    rate_limit: RateLimitSchema.optional(),
    batch: BatchSchema.optional(),
  })
  .strict()
  .superRefine((fc, ctx) => {
    const set = (['debounce', 'throttle', 'rate_limit', 'batch'] as const).filter((k) => fc[k] !== undefined);
    if (set.length !== 1) ctx.addIssue({ code: 'custom', path: [], message: `set exactly one of debounce, throttle, rate_limit, batch (found ${set.length === 0 ? 'none' : set.join(', ')})` });
    if (fc.throttle?.burst !== undefined && fc.throttle.burst > fc.throttle.limit) {
      ctx.addIssue({ code: 'custom', path: ['throttle', 'burst'], message: `burst (${fc.throttle.burst}) may not exceed limit (${fc.throttle.limit})` });
    }
    if (fc.debounce?.max_delay !== undefined && fc.debounce.max_delay < fc.debounce.period) {
      ctx.addIssue({ code: 'custom', path: ['debounce', 'max_delay'], message: `max_delay (${fc.debounce.max_delay}) must be at least period (${fc.debounce.period})` });
    }
  })
  .describe('Flow control on what the actions start: exactly one of debounce, throttle, rate_limit, batch (docs/automations.md).');
export type FlowControl = z.output<typeof FlowControlSchema>;

// ---- the automation ----

export const AutomationInputSchema = z
  .object({
    $schema: z.string().optional().describe('Editor hint, ignored.'),
    name: z.string().min(1).max(200),
    description: z.string().max(10_000).default(''),
    enabled: z.boolean().default(true),
    tags: z.array(z.string().max(256)).max(64).default([]),
    trigger: TriggerSchema,
    actions: z.array(ActionSchema).max(L.maxActions).default([]),
    actions_on_resolve: z.array(ActionSchema).max(L.maxActions).default([]),
    flow_control: FlowControlSchema.optional(),
  })
  .strict()
  .superRefine((doc, ctx) => {
    if (doc.trigger && typeof doc.trigger === 'object') checkTrigger(doc.trigger, ['trigger'], ctx, 1);
  })
  .describe('A Reflex automation: a trigger evaluated on the event stream and the actions run when it fires.');

export type AutomationInput = z.output<typeof AutomationInputSchema>;
/** The stored document: the input with defaults filled in, without the editor hint. */
export type AutomationDocument = Omit<AutomationInput, '$schema'>;

export const AutomationSchema = z
  .object({
    id: z.string(),
    name: z.string(),
    description: z.string(),
    enabled: z.boolean(),
    tags: z.array(z.string()),
    trigger: TriggerSchema,
    actions: z.array(ActionSchema),
    actions_on_resolve: z.array(ActionSchema),
    flow_control: FlowControlSchema.optional(),
    created: z.string(),
    updated: z.string(),
  })
  .describe('A stored automation.');
export type Automation = AutomationDocument & { id: string; created: string; updated: string };

export const AutomationPatchSchema = z
  .object({
    enabled: z.boolean().optional(),
    name: z.string().min(1).max(200).optional(),
    description: z.string().optional(),
    tags: z.array(z.string()).optional(),
  })
  .strict();

/** Rules zod's shape cannot express: operators, postures, counts. Paths point at the offending field. */
function checkTrigger(t: Trigger, path: (string | number)[], ctx: z.RefinementCtx, depth: number): void {
  if (depth > L.maxTriggerDepth) {
    ctx.addIssue({ code: 'custom', path, message: `compound and sequence triggers may nest at most ${L.maxTriggerDepth} levels` });
    return;
  }
  if (t.type === 'event') {
    if (t.condition !== undefined) {
      for (const issue of jsonLogicIssues(t.condition, [...path, 'condition'])) ctx.addIssue({ code: 'custom', ...issue });
    }
    const spec = Array.isArray(t.match_related) ? t.match_related : [t.match_related];
    // `*` narrows nothing, a list of only negations almost nothing, and every event has a resource id.
    const narrows = (patterns: string[]) => patterns.some((p) => !p.startsWith('!') && !/^\*+$/.test(p));
    const matchNarrows = Object.entries(t.match).some(([label, p]) => label !== 'reflex.resource.id' || narrows(Array.isArray(p) ? p : [p]));
    const filtered = narrows(t.expect) || matchNarrows || spec.some((s) => Object.keys(s).length > 0) || t.condition !== undefined;
    if (!filtered) {
      ctx.addIssue({ code: 'custom', path: [...path, 'expect'], message: 'this trigger matches every event; narrow it with expect, match, match_related or condition' });
    }
    if (t.posture === 'Proactive') {
      if (t.within <= 0) ctx.addIssue({ code: 'custom', path: [...path, 'within'], message: 'a Proactive trigger needs within > 0 (seconds to wait for events)' });
      if (t.threshold < 1) ctx.addIssue({ code: 'custom', path: [...path, 'threshold'], message: 'a Proactive trigger fires when fewer than threshold events arrive, so threshold must be at least 1' });
    }
    return;
  }
  if (t.type === 'metric') {
    if (depth > 1) ctx.addIssue({ code: 'custom', path, message: 'a metric trigger is evaluated on its own schedule: it cannot be inside a compound or sequence trigger' });
    const scopes = (['deployment', 'flow', 'work_pool', 'automation'] as const).filter((k) => t[k] !== undefined);
    if (scopes.length > 1) ctx.addIssue({ code: 'custom', path: [...path, scopes[1]], message: `give one scope (deployment, flow, work_pool or automation), not ${scopes.join(' and ')}` });
    if (t.metric === 'webhook-failure-rate' && scopes.some((k) => k !== 'automation')) {
      ctx.addIssue({ code: 'custom', path: [...path, scopes.find((k) => k !== 'automation') as string], message: 'webhook-failure-rate is scoped by automation only' });
    }
    if ((t.metric === 'flow-run-success-rate' || t.metric === 'webhook-failure-rate') && (t.threshold < 0 || t.threshold > 1)) {
      ctx.addIssue({ code: 'custom', path: [...path, 'threshold'], message: 'a rate is between 0 and 1 (0.95 = 95 %)' });
    }
    return;
  }
  if (t.type === 'compound' && typeof t.require === 'number' && t.require > t.triggers.length) {
    ctx.addIssue({ code: 'custom', path: [...path, 'require'], message: `require is ${t.require} but there are only ${t.triggers.length} triggers` });
  }
  t.triggers.forEach((child, i) => checkTrigger(child, [...path, 'triggers', i], ctx, depth + 1));
}
