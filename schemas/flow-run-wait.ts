import { z } from 'zod';

/**
 * What a paused or suspended run waits for, as `GET /api/flow-runs/:id/pause` answers it (issue 13). Its own
 * file so the dashboard's types (schemas/dashboard.ts style, type-only imports) read the same contract.
 */
export const FlowRunWaitSchema = z.object({
  flow_run_id: z.string(),
  wait_key: z.string(),
  kind: z.enum(['pause', 'suspend', 'event']),
  spec: z.record(z.string(), z.unknown()),
  timeout_at: z.string().nullable(),
  outcome: z.enum(['resumed', 'timed_out', 'matched']).nullable(),
  resolved_at: z.string().nullable(),
  created: z.string(),
});
