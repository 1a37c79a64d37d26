import { randomBytes } from 'node:crypto';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';

/**
 * What the suite asks of the engine, and what it must therefore observe: every event is `fault.tick` with
 * a sequence number `n` chosen by the load generator, and each automation's firings are a function of the
 * set of numbers the engine accepted, so the checker computes the expected counts from the ledger alone.
 */

export const EVENT_NAME = 'fault.tick';
export const FLOW_NAME = 'fault-noop';
export const FLOWS_MODULE = 'faults/flows.ts';
/** Deployment the run-deployment automation starts runs of. */
export const RUN_DEPLOYMENT = 'fault-runs';
/** Deployment with an interval schedule: the scheduler's work. */
export const SCHEDULED_DEPLOYMENT = 'fault-scheduled';
export const SCHEDULE_INTERVAL_SECONDS = 2;
/** Buckets of the threshold automation (`payload.bucket`) and its threshold. */
export const BUCKETS = 7;
export const THRESHOLD = 5;
/** Retry base of the webhook action: a 20 s receiver outage is then bridged by at most one 18 s (±20%) gap. */
export const WEBHOOK_RETRY = { attempts: 10, delay_seconds: 2 } as const;

export const AUTOMATIONS = { webhook: 'fault-webhook', run: 'fault-run', threshold: 'fault-threshold' } as const;
export type AutomationKey = keyof typeof AUTOMATIONS;

export interface WorkloadOptions {
  /** One event in this many starts a flow run. */
  runEvery: number;
}

/** The rules the automations' json-logic conditions implement, for the checker. */
export const qualifies = {
  webhook: (n: number) => n % 2 === 0,
  run: (n: number, o: WorkloadOptions) => n % o.runEvery === 0,
};

export function bucketOf(n: number): string {
  return `b${n % BUCKETS}`;
}

export function eventPayload(n: number): { n: number; bucket: string } {
  return { n, bucket: bucketOf(n) };
}

/** Firings each automation must record for the numbers the engine accepted. */
export function expectedFirings(numbers: Iterable<number>, o: WorkloadOptions): Record<AutomationKey, number> {
  let webhook = 0;
  let run = 0;
  const perBucket = new Map<string, number>();
  for (const n of numbers) {
    if (qualifies.webhook(n)) webhook += 1;
    if (qualifies.run(n, o)) run += 1;
    perBucket.set(bucketOf(n), (perBucket.get(bucketOf(n)) ?? 0) + 1);
  }
  // Threshold N with no window: every N-th matching event of a bucket fires (docs/automations.md).
  let threshold = 0;
  for (const count of perBucket.values()) threshold += Math.floor(count / THRESHOLD);
  return { webhook, run, threshold };
}

/** A Standard Webhooks signing secret for the webhook action (one per suite run). */
export function signingSecret(): string {
  return `whsec_${randomBytes(24).toString('base64')}`;
}

export function automationDocuments(receiverUrl: string, secret: string, o: WorkloadOptions): Record<AutomationKey, Record<string, unknown>> {
  const everyNth = (k: number) => ({ '==': [{ '%': [{ var: 'event.payload.n' }, k] }, 0] });
  return {
    webhook: {
      name: AUTOMATIONS.webhook,
      trigger: { type: 'event', expect: [EVENT_NAME], condition: everyNth(2) },
      actions: [
        {
          type: 'call-webhook',
          url: `${receiverUrl}/deliveries`,
          secret,
          body: '{"event_id": "{{ event.id }}", "n": {{ event.payload.n }}}',
          timeout_seconds: 5,
          retry: WEBHOOK_RETRY,
        },
      ],
    },
    run: {
      name: AUTOMATIONS.run,
      trigger: { type: 'event', expect: [EVENT_NAME], condition: everyNth(o.runEvery) },
      actions: [{ type: 'run-deployment', deployment_name: `${FLOW_NAME}/${RUN_DEPLOYMENT}`, parameters: { n: '{{ event.payload.n }}' } }],
    },
    threshold: {
      name: AUTOMATIONS.threshold,
      trigger: { type: 'event', expect: [EVENT_NAME], for_each: ['payload.bucket'], threshold: THRESHOLD },
      actions: [{ type: 'do-nothing' }],
    },
  };
}

/** Writes the automations as files for the automations service to apply at start (REFLEX_AUTOMATIONS_DIR). */
export async function writeAutomationFiles(dir: string, docs: Record<AutomationKey, Record<string, unknown>>): Promise<void> {
  await mkdir(dir, { recursive: true });
  for (const [key, doc] of Object.entries(docs)) await writeFile(join(dir, `${key}.json`), JSON.stringify(doc, null, 2));
}

export const DEPLOYMENTS = [
  { name: RUN_DEPLOYMENT, flow: FLOW_NAME, work_pool: 'default' },
  { name: SCHEDULED_DEPLOYMENT, flow: FLOW_NAME, work_pool: 'default', schedules: [{ interval_seconds: SCHEDULE_INTERVAL_SECONDS }] },
] as const;
