import { z } from 'zod';
import { pageOf } from '../../../schemas/common.ts';
import { SecretInputSchema, SecretNameSchema, SecretSchema, SecretUpdateSchema } from '../../../schemas/secret.ts';
import type { RouteModule } from '../route-module.ts';

const NameParams = z.object({ name: SecretNameSchema });
const tags = ['secrets'];

/** Secrets, write-only: every answer is the name, grants and times, never the value. */
export const secretRoutes: RouteModule = (app, { modules }) => {
  const { secrets } = modules;
  app.get(
    '/api/secrets',
    { schema: { operationId: 'listSecrets', tags, summary: 'List secrets (names, grants and times; never values)', response: { 200: pageOf(SecretSchema) } } },
    async () => ({ items: await secrets.list(), next_cursor: null }),
  );

  app.post(
    '/api/secrets',
    {
      schema: {
        operationId: 'createSecret',
        tags,
        summary: 'Store a secret (409 when the name exists; 422 when REFLEX_SECRETS_KEY is not set)',
        body: SecretInputSchema,
        response: { 201: SecretSchema },
      },
    },
    async (req, reply) => reply.code(201).send(await secrets.create(req.body)),
  );

  app.get(
    '/api/secrets/:name',
    { schema: { operationId: 'getSecret', tags, summary: "A secret's metadata (never its value)", params: NameParams, response: { 200: SecretSchema } } },
    async (req) => secrets.get(req.params.name),
  );

  app.put(
    '/api/secrets/:name',
    {
      schema: {
        operationId: 'putSecret',
        tags,
        summary: 'Create or change a secret: a new value and/or grants (what is omitted is kept)',
        params: NameParams,
        body: SecretUpdateSchema,
        response: { 200: SecretSchema, 201: SecretSchema },
      },
    },
    async (req, reply) => {
      const { secret, created } = await secrets.put(req.params.name, req.body);
      return reply.code(created ? 201 : 200).send(secret);
    },
  );

  app.delete(
    '/api/secrets/:name',
    { schema: { operationId: 'deleteSecret', tags, summary: 'Delete a secret', params: NameParams, response: { 204: z.undefined() } } },
    async (req, reply) => {
      await secrets.delete(req.params.name);
      return reply.code(204).send();
    },
  );
};
