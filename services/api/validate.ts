import type { z } from 'zod';
import { toFieldIssues, ValidationError } from '../../core/errors.ts';

/** Parses input against a zod schema; on failure throws a 400 listing every problem by field path. */
export function parseInput<T extends z.ZodType>(schema: T, input: unknown, what = 'request'): z.output<T> {
  const result = schema.safeParse(input);
  if (!result.success) {
    const issues = toFieldIssues(result.error.issues);
    throw new ValidationError(`invalid ${what}: ${issues.map((i) => `${i.path || '(root)'}: ${i.message}`).join('; ')}`, issues);
  }
  return result.data;
}
