import { z } from 'zod';

/** A firing as its history shows it (table `automation_firings`): what fired, on which event, and each action's outcome. */

export const ActionOutcomeSchema = z.object({
  index: z.number(),
  type: z.string(),
  status: z.enum(['pending', 'executed', 'failed']),
  reason: z.string().optional(),
  detail: z.record(z.string(), z.unknown()).optional().describe('`result.flow_run_id` names the run a run-deployment made, `delivery_id` the webhook delivery.'),
  updated: z.string().optional(),
});

export const FiringRecordSchema = z.object({
  id: z.string(),
  automation_id: z.string(),
  state: z.enum(['triggered', 'resolved', 'rate-limited']),
  fired_at: z.string(),
  trigger_path: z.string(),
  triggering_labels: z.record(z.string(), z.string()),
  triggering_event: z.unknown().nullable(),
  count: z.number(),
  window_start: z.string().nullable(),
  window_end: z.string().nullable(),
  actions: z.array(ActionOutcomeSchema),
  flow_control: z.record(z.string(), z.unknown()).nullable().optional().describe('What flow control did: mode, key, reason, due, delayed_ms, event_ids.'),
});
