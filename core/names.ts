/**
 * The only place that builds names of things outside the process: NATS subjects, JetStream streams and
 * consumers, BullMQ queues, Redis keys and the Postgres schema. Everything derives from the namespace so
 * two Reflex instances (or two test runs) can share one NATS, Redis and Postgres without seeing each other.
 */
export interface Names {
  readonly namespace: string;
  /** Postgres schema holding every table of this namespace. */
  readonly pgSchema: string;
  /** Prefix given to BullMQ, so its keys are `<ns>:bull:<queue>:...`. */
  readonly bullPrefix: string;
  readonly streams: {
    readonly events: string;
    /** The benchmark's raw-publish stream (bench/ingest.ts); listed here so reset deletes it. */
    readonly bench: string;
  };
  /** Subject of the benchmark's raw-publish stream. */
  readonly benchSubject: string;
  readonly consumers: {
    readonly recorder: string;
    readonly automations: string;
  };
  /** BullMQ queue names (BullMQ forbids ':' in them). */
  readonly queues: {
    readonly automationActions: string;
    readonly automationTimers: string;
    readonly webhookDeliveries: string;
    readonly workPool: (pool: string) => string;
  };
  /** `<ns>.events.<event name>`: the dotted event name maps one-to-one onto subject tokens. */
  eventSubject(eventName: string): string;
  /** Subject filter for an event-name pattern: `order.created`, `order.*` (prefix) or `*` (all). */
  eventFilterSubject(pattern?: string): string;
  /** Inverse of eventSubject. */
  eventNameFromSubject(subject: string): string;
  /** A Redis key owned by this namespace. */
  redisKey(...parts: string[]): string;
  /** Postgres LISTEN/NOTIFY channels (a notification wakes the outbox relay right after a commit). */
  readonly pgChannels: {
    readonly outbox: string;
  };
  /** Pattern matching every Redis key of this namespace (for reset). */
  readonly redisPattern: string;
  /** NATS core subjects (not JetStream) for control notices between replicas. */
  readonly controlSubjects: {
    /** An automation was created, changed or deleted: replicas reload their cache. */
    readonly automationChanges: string;
  };
}

export function names(namespace: string): Names {
  const subjectPrefix = `${namespace}.events.`;
  return {
    namespace,
    pgSchema: namespace,
    bullPrefix: `${namespace}:bull`,
    streams: { events: `${namespace}_events`, bench: `${namespace}_bench` },
    benchSubject: `${namespace}.bench.raw`,
    consumers: {
      recorder: `${namespace}_recorder`,
      automations: `${namespace}_automations`,
    },
    queues: {
      automationActions: 'automation-actions',
      automationTimers: 'automation-timers',
      webhookDeliveries: 'webhook-deliveries',
      workPool: (pool: string) => `work-pool-${pool}`,
    },
    eventSubject: (eventName) => subjectPrefix + eventName,
    eventFilterSubject(pattern = '*') {
      if (pattern === '*' || pattern === '') return `${subjectPrefix}>`;
      if (pattern.endsWith('.*')) return `${subjectPrefix}${pattern.slice(0, -2)}.>`;
      return subjectPrefix + pattern;
    },
    eventNameFromSubject: (subject) => subject.slice(subjectPrefix.length),
    redisKey: (...parts) => [namespace, ...parts].join(':'),
    pgChannels: { outbox: `${namespace}_outbox` },
    redisPattern: `${namespace}:*`,
    controlSubjects: { automationChanges: `${namespace}.control.automations` },
  };
}
