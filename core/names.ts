/**
 * The one catalogue of names. `names(namespace)` builds every name of a thing outside the process: NATS
 * subjects, JetStream streams and consumers, BullMQ queues, Redis keys, Postgres schema and channels;
 * everything derives from the namespace so two Reflex instances (or two test runs) share one NATS, Redis
 * and Postgres without seeing each other. Below it, the names every namespace shares: resource ids,
 * related-resource roles, the engine's own event names and the trigger state-key grammar. Feature code
 * never concatenates any of these itself.
 */

export interface Names {
  readonly namespace: string;
  /** Postgres schema holding every table of this namespace. */
  readonly pgSchema: string;
  /** Prefix given to BullMQ, so its keys are `<ns>:bull:<queue>:...`. */
  readonly bullPrefix: string;
  readonly streams: { readonly events: string };
  /**
   * Durable consumers of the events stream: the recorder reads all of it; `automations` reads the users'
   * events only (`eventTrees.users`); `automationsEngine` reads the engine's own events (`eventTrees.engine`)
   * and exists only while some enabled automation can match a `reflex.*` event.
   */
  readonly consumers: { readonly recorder: string; readonly automations: string; readonly automationsEngine: string };
  /** BullMQ queue names (BullMQ forbids ':' in them). */
  readonly queues: {
    readonly automationActions: string;
    readonly webhookDeliveries: string;
    readonly workPool: (pool: string) => string;
  };
  /**
   * The two subject trees of the events stream: users' events on `<ns>.events.<name>`, the engine's own
   * (`reflex.*`: firings, action outcomes, deliveries, run states) on `<ns>.engine.<name>`. NATS 2.9 gives a
   * consumer one filter subject: two trees let the automations consumer of users' events skip the outcome
   * events (most of the stream under load) on the server, while the recorder (no filter) reads both.
   */
  readonly eventTrees: { readonly users: string; readonly engine: string };
  /**
   * `<ns>.events.<event name>`, or `<ns>.engine.<event name>` for a `reflex.*` name: the dotted event name
   * maps one-to-one onto subject tokens after the tree's prefix.
   */
  eventSubject(eventName: string): string;
  /**
   * The one subject filter of an event-name pattern that lives in one tree: `order.created`, `order.*`
   * (prefix), `reflex.flow-run.*`. `*` (every event) spans both trees: use eventFilterSubjects.
   */
  eventFilterSubject(pattern: string): string;
  /** The subject filters covering a pattern: one, or both trees for `*` (all events). */
  eventFilterSubjects(pattern?: string): string[];
  /** Inverse of eventSubject (either tree). */
  eventNameFromSubject(subject: string): string;
  /** Postgres LISTEN/NOTIFY channels (a notification wakes the outbox relay right after a commit). */
  readonly pgChannels: { readonly outbox: string };
  /** Pattern matching every Redis key of this namespace (for reset). */
  readonly redisPattern: string;
  /** NATS core subjects (not JetStream) for control notices between replicas. */
  readonly controlSubjects: {
    /** An automation was created, changed or deleted: replicas reload their cache. */
    readonly automationChanges: string;
  };
  /** Every Redis key family of the namespace. */
  readonly keys: RedisKeys;
}

export interface RedisKeys {
  /** Trigger state of one state key (see stateKeys), a hash {v, s}. */
  automationState(stateKey: string): string;
  /** Prefix of every automation state key (for scans). */
  readonly automationStatePrefix: string;
  /** Sorted set of proactive deadlines, members are bucket state keys. */
  readonly automationTimers: string;
  /** Hash of firings committed but not yet dispatched. */
  readonly automationPending: string;
  /** Bitmap block of applied stream sequences. */
  automationApplied(block: number): string;
  /** Flag set when a flow run's cancellation is requested. */
  cancelFlag(runId: string): string;
  /** Pub/sub channel telling workers a cancellation was requested. */
  readonly cancelChannel: string;
  /** A running flow run's liveness key. */
  heartbeat(runId: string): string;
  /** Held by the worker that sweeps crashed runs. */
  readonly crashSweeperLock: string;
  /** Leases of a deployment's or work pool's concurrency limit. */
  deploymentSlots(deploymentId: string): string;
  workPoolSlots(pool: string): string;
  /** Hash of named global concurrency limits, and the leases of one. */
  readonly concurrencyLimits: string;
  concurrencyHolders(limitName: string): string;
  /** Hash of the workers serving a pool: one field per worker, its presence record (JSON), rewritten every heartbeat. */
  workers(pool: string): string;
  /** A signed incoming webhook's message id, remembered for the signature's tolerance window (replay guard). */
  incomingMessage(endpointId: string, messageId: string): string;
  // ---- run control (issue 15): concurrency keys and SLAs ----
  /** Leases of one concurrency key of a deployment: a sorted set of run ids scored by lease expiry (`keyHash`: see runKeyHash). */
  runKeyHolders(deploymentId: string, keyHash: string): string;
  /** Runs waiting for a key's slot, in creation order (score: creation ms; same ms ordered by the UUID v7 id). */
  runKeyWaiters(deploymentId: string, keyHash: string): string;
  /** When each waiter last asked (expiry score): a waiter that stops asking (cancelled, deleted) leaves the line. */
  runKeyWaiterSeen(deploymentId: string, keyHash: string): string;
  /** Keys of a deployment with a run waiting below its guaranteed floor (expiry score): while any, no key bursts. */
  runKeyStarved(deploymentId: string): string;
  /** Hash of the SLA conditions currently violated: field `<sla index>|<subject>`, value the violation's start (ms). */
  slaViolations(deploymentId: string): string;
  /** Set of the deployments with open violations (so a deployment whose SLAs were removed still resolves them). */
  readonly slaOpen: string;
  // ---- flow authors (issue 13): state hooks, artifacts, pause/resume ----
  /** Lease (SET NX PX) of the one worker running the onCrashed hooks of one CRASHED state (by its id). */
  crashHookClaim(crashedStateId: string): string;
  /** Set once the onCrashed hooks of one CRASHED state have run (kept a day, as long as crashes are looked for). */
  crashHookDone(crashedStateId: string): string;
}

export function names(namespace: string): Names {
  const subjectPrefix = `${namespace}.events.`;
  const enginePrefix = `${namespace}.engine.`;
  const prefixOf = (name: string) => (name.startsWith(ENGINE_EVENT_PREFIX) ? enginePrefix : subjectPrefix);
  const eventTrees = { users: `${subjectPrefix}>`, engine: `${enginePrefix}>` };
  const filterOf = (pattern: string) => {
    if (pattern === '*' || pattern === '') throw new Error('the pattern `*` spans both event subject trees: use eventFilterSubjects');
    if (pattern.endsWith('.*')) return `${prefixOf(pattern)}${pattern.slice(0, -2)}.>`;
    return prefixOf(pattern) + pattern;
  };
  const key = (...parts: string[]) => [namespace, ...parts].join(':');
  return {
    namespace,
    pgSchema: namespace,
    bullPrefix: `${namespace}:bull`,
    streams: { events: `${namespace}_events` },
    consumers: { recorder: `${namespace}_recorder`, automations: `${namespace}_automations`, automationsEngine: `${namespace}_automations_engine` },
    queues: {
      automationActions: 'automation-actions',
      webhookDeliveries: 'webhook-deliveries',
      workPool: (pool: string) => `work-pool-${pool}`,
    },
    eventTrees,
    eventSubject: (eventName) => prefixOf(eventName) + eventName,
    eventFilterSubject: filterOf,
    eventFilterSubjects: (pattern = '*') => (pattern === '*' || pattern === '' ? [eventTrees.users, eventTrees.engine] : [filterOf(pattern)]),
    // Before the engine tree existed, `reflex.*` events were stored under `<ns>.events.`: both parse.
    eventNameFromSubject: (subject) => subject.slice((subject.startsWith(enginePrefix) ? enginePrefix : subjectPrefix).length),
    pgChannels: { outbox: `${namespace}_outbox` },
    redisPattern: `${namespace}:*`,
    controlSubjects: { automationChanges: `${namespace}.control.automations` },
    keys: {
      automationState: (stateKey) => key('automations', 'state', stateKey),
      automationStatePrefix: key('automations', 'state', ''),
      automationTimers: key('automations', 'timers'),
      automationPending: key('automations', 'pending'),
      automationApplied: (block) => key('automations', 'applied', String(block)),
      cancelFlag: (runId) => key('flow-run-cancel', runId),
      cancelChannel: key('flow-run-cancel-channel'),
      heartbeat: (runId) => key('flow-run-heartbeat', runId),
      crashSweeperLock: key('crash-sweeper-lock'),
      deploymentSlots: (id) => key('run-slots', 'deployment', id),
      workPoolSlots: (pool) => key('run-slots', 'work-pool', pool),
      concurrencyLimits: key('concurrency-limits'),
      concurrencyHolders: (name) => key('concurrency', name, 'holders'),
      workers: (pool) => key('workers', pool),
      incomingMessage: (endpointId, messageId) => key('incoming-webhook', endpointId, messageId),
      // run control (issue 15)
      runKeyHolders: (id, h) => key('run-keys', id, h, 'holders'),
      runKeyWaiters: (id, h) => key('run-keys', id, h, 'waiters'),
      runKeyWaiterSeen: (id, h) => key('run-keys', id, h, 'seen'),
      runKeyStarved: (id) => key('run-keys', id, 'starved'),
      slaViolations: (id) => key('sla', id, 'violations'),
      slaOpen: key('sla', 'open'),
      // flow authors (issue 13)
      crashHookClaim: (stateId) => key('crash-hook', stateId, 'claim'),
      crashHookDone: (stateId) => key('crash-hook', stateId, 'done'),
    },
  };
}

// ---- names shared by every namespace ----

/** Kinds of resource Reflex names itself: `reflex.<kind>.<id>`. */
export const RESOURCE_KINDS = ['flow-run', 'task-run', 'flow', 'deployment', 'work-pool', 'tag', 'automation', 'event', 'webhook', 'webhook-delivery', /* flow authors (issue 13) */ 'artifact'] as const;
export type ResourceKind = (typeof RESOURCE_KINDS)[number];

/** `reflex.<kind>.<id>`, the `reflex.resource.id` of what Reflex itself owns. */
export function resourceId(kind: ResourceKind, id: string): string {
  return `reflex.${kind}.${id}`;
}

/** The id inside `reflex.<kind>.<id>`, or null when the resource id is of another kind. */
export function idOfResource(kind: ResourceKind, resource: string): string | null {
  const prefix = `reflex.${kind}.`;
  return resource.startsWith(prefix) && resource.length > prefix.length ? resource.slice(prefix.length) : null;
}

/** The `reflex.resource.role` of the related resources Reflex writes. */
export const Roles = {
  /** The automations that caused an event (the loop guard reads them). */
  automationChain: 'automation-chain',
  triggeringEvent: 'triggering-event',
  /** What an automation action acted on (a run, a deployment, an event). */
  target: 'target',
  automation: 'automation',
  flow: 'flow',
  flowRun: 'flow-run',
  taskRun: 'task-run',
  deployment: 'deployment',
  workPool: 'work-pool',
  tag: 'tag',
} as const;

/** Events the engine emits about itself are named `reflex.<...>`; user events should not use the prefix. */
export const ENGINE_EVENT_PREFIX = 'reflex.';

/** The families of the engine's own event names, by prefix (a live view tells them apart by name alone). */
export const EventFamilies = {
  flowRun: 'reflex.flow-run.',
  taskRun: 'reflex.task-run.',
  /** Firings and action outcomes. */
  automation: 'reflex.automation.',
  webhookDelivery: 'reflex.webhook.delivery.',
} as const;

/** The engine's own event names. */
export const EventNames = {
  flowRunState: (stateName: string) => `${EventFamilies.flowRun}${stateName}`,
  taskRunState: (stateName: string) => `${EventFamilies.taskRun}${stateName}`,
  automationFiring: (state: 'triggered' | 'resolved' | 'rate-limited') => `${EventFamilies.automation}${state}`,
  automationAction: (status: 'executed' | 'failed') => `${EventFamilies.automation}action.${status}`,
  webhookDelivery: (verdict: 'succeeded' | 'failed') => `${EventFamilies.webhookDelivery}${verdict}`,
  webhookReceived: 'reflex.webhook.received',
  // deployment SLAs (issue 15)
  slaViolated: 'reflex.sla.violated',
  slaResolved: 'reflex.sla.resolved',
  // flow authors (issue 13)
  artifactCreated: 'reflex.artifact.created',
} as const;

/**
 * The grammar of trigger state keys (the `<stateKey>` of RedisKeys.automationState, and the members of
 * the timers set): `b|<automation>|<trigger hash>|<trigger path>|<bucket>` for an event trigger's bucket,
 * `c|<automation>|<trigger hash>|<path>` for a compound or sequence node, and `i|...` for the notes of
 * immediate triggers that keep no state. Built and parsed only here.
 */
export const stateKeys = {
  bucket: (automationId: string, hash: string, path: string, bucket: string) => `b|${automationId}|${hash}|${path}|${bucket}`,
  composite: (automationId: string, hash: string, path: string) => `c|${automationId}|${hash}|${path}`,
  immediate: (automationId: string, path: string, bucket: string) => `i|${automationId}|${path}|${bucket}`,
  /** Run control (issue 15): whether a metric trigger is inside its condition, `m|<automation>|<trigger hash>`. */
  metric: (automationId: string, hash: string) => `m|${automationId}|${hash}`,
  /** The parts of a bucket key, or null for any other key. */
  parseBucket(key: string): { automationId: string; hash: string; path: string } | null {
    const parts = key.split('|');
    if (parts.length < 5 || parts[0] !== 'b') return null;
    return { automationId: parts[1], hash: parts[2], path: parts[3] };
  },
  /** True for a composite node's key. */
  isComposite: (key: string) => key.startsWith('c|'),
  /** The automation a state key of any kind belongs to. */
  automationOf(key: string): string | null {
    const parts = key.split('|');
    return parts.length >= 3 && (parts[0] === 'b' || parts[0] === 'c' || parts[0] === 'i' || parts[0] === 'f' || parts[0] === 'm') ? parts[1] : null;
  },
  /** A scan pattern for every state key of one automation (glob characters in the id cannot occur: it is a UUID). */
  scanPattern: (prefix: string, automationId: string) => `${prefix}?|${automationId}|*`,
  // Flow control (debounce, throttle, rate limit, batch): one state per automation and rendered key.
  /** `f|<automation>|<flow key>`: the flow-control state of one key (also its timer member). */
  flow: (automationId: string, flowKey: string) => `f|${automationId}|${flowKey}`,
  /** The automation of a flow-control key, or null for any other key. */
  parseFlow(key: string): { automationId: string } | null {
    const parts = key.split('|');
    return parts.length >= 3 && parts[0] === 'f' ? { automationId: parts[1] } : null;
  },
} as const;
