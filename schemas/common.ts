import { z } from 'zod';

/** How a webhook delivery is retried: attempts in all, and the first delay (growing ×3 with jitter). */
export const RetryPolicySchema = z.object({
  attempts: z.number().int().min(1).max(50).default(8),
  delay_seconds: z.number().min(0).max(3600).default(5),
});

export const FieldIssueSchema = z.object({ path: z.string(), message: z.string() });

export const ErrorResponseSchema = z
  .object({
    error: z.object({
      code: z.string(),
      message: z.string(),
      issues: z.array(FieldIssueSchema),
      dependency: z
        .string()
        .optional()
        .describe('With `dependency_unavailable` (503, with Retry-After): the dependency that cannot serve, `NATS`, `Redis` or `PostgreSQL`.'),
    }),
  })
  .describe('Every error answer of the API.');

/** List endpoints answer `{ items, next_cursor }`. */
export function pageOf<T extends z.ZodType>(item: T) {
  return z.object({ items: z.array(item), next_cursor: z.string().nullable() });
}
