import type { FastifySchemaCompiler } from 'fastify';
import type { FastifySerializerCompiler } from 'fastify/types/schema.js';
import type { z } from 'zod';
import { ValidationError } from '../../core/errors.ts';

/**
 * How route schemas become validation. Request parts are parsed with their zod schema once, and a failure
 * is a ValidationError (400) listing every problem by field path, as the rest of Reflex reports them.
 * Responses are written as they are (the schemas type the handlers and document the API; validating
 * every answer again would only cost time).
 */

const PART: Record<string, string> = { body: 'request', querystring: 'query', params: 'path parameters', headers: 'headers' };

/** Schemas that only document a request part: the route validates it itself (ingest, with CloudEvents). */
const documentedOnly = new WeakSet<z.ZodType>();

export function documentOnly<T extends z.ZodType>(schema: T): T {
  documentedOnly.add(schema);
  return schema;
}

export const validatorCompiler: FastifySchemaCompiler<z.ZodType> = ({ schema, httpPart }) => {
  if (documentedOnly.has(schema)) return (data) => ({ value: data });
  const what = PART[httpPart ?? 'body'] ?? 'request';
  // A request without a body is validated as an empty object: optional fields take their defaults.
  const blank = httpPart === 'body' ? (data: unknown) => (data === undefined ? {} : data) : (data: unknown) => data;
  return (data) => {
    const result = schema.safeParse(blank(data));
    if (result.success) return { value: result.data };
    return { error: ValidationError.fromIssues(what, result.error.issues) };
  };
};

export const serializerCompiler: FastifySerializerCompiler<unknown> = () => (data) => JSON.stringify(data);
