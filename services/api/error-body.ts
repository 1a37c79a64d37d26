import type { ReflexError } from '../../core/errors.ts';

/** The one error envelope of the API: `{ error: { code, message, issues } }` (schemas/common.ts ErrorResponseSchema). */
export function errorBody(err: ReflexError): { error: ReturnType<ReflexError['toJSON']> } {
  return { error: err.toJSON() };
}
