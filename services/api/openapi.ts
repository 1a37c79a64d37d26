import { z } from 'zod';
import { ErrorResponseSchema } from '../../schemas/common.ts';

export interface RouteDoc {
  method: 'get' | 'post' | 'put' | 'patch' | 'delete';
  /** OpenAPI path, e.g. `/api/events/{id}`. */
  path: string;
  summary: string;
  tags?: string[];
  body?: z.ZodType;
  query?: z.ZodObject;
  /** Success status and its body schema. */
  status?: number;
  response?: z.ZodType;
}

/**
 * Routes describe themselves here with the same zod schemas they validate with, so the OpenAPI document
 * served at /api/docs cannot drift from the code.
 */
export class OpenApiRegistry {
  private readonly routes: RouteDoc[] = [];

  add(doc: RouteDoc): void {
    this.routes.push(doc);
  }

  document(serverUrl: string): Record<string, unknown> {
    const paths: Record<string, Record<string, unknown>> = {};
    const jsonSchema = (s: z.ZodType, io: 'input' | 'output') =>
      z.toJSONSchema(s, { target: 'openapi-3.0', io, unrepresentable: 'any' });
    for (const r of this.routes) {
      const op: Record<string, unknown> = {
        summary: r.summary,
        tags: r.tags,
        responses: {
          [String(r.status ?? 200)]: {
            description: 'Success',
            ...(r.response ? { content: { 'application/json': { schema: jsonSchema(r.response, 'output') } } } : {}),
          },
          default: { description: 'Error', content: { 'application/json': { schema: jsonSchema(ErrorResponseSchema, 'output') } } },
        },
      };
      if (r.body) op.requestBody = { required: true, content: { 'application/json': { schema: jsonSchema(r.body, 'input') } } };
      const params: unknown[] = [];
      for (const m of r.path.matchAll(/\{(\w+)\}/g)) params.push({ name: m[1], in: 'path', required: true, schema: { type: 'string' } });
      if (r.query) {
        for (const [name, schema] of Object.entries(r.query.shape)) {
          params.push({ name, in: 'query', required: false, schema: jsonSchema(schema as z.ZodType, 'input') });
        }
      }
      if (params.length) op.parameters = params;
      (paths[r.path] ??= {})[r.method] = op;
    }
    return {
      openapi: '3.0.3',
      info: { title: 'Reflex API', version: '0.1.0', description: 'Events, automations, deployments, flow runs and webhooks.' },
      servers: [{ url: serverUrl }],
      components: { securitySchemes: { bearer: { type: 'http', scheme: 'bearer' } } },
      security: [{ bearer: [] }],
      paths,
    };
  }
}
