import { z } from 'zod';

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
