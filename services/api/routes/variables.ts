import { z } from 'zod';
import { createVariable, deleteVariable, getVariable, listVariables, putVariable } from '../../../modules/variables/index.ts';
import { pageOf } from '../../../schemas/common.ts';
import { VariableInputSchema, VariableNameSchema, VariableSchema, VariableUpdateSchema } from '../../../schemas/secret.ts';
import type { RouteModule } from '../route-module.ts';

const NameParams = z.object({ name: VariableNameSchema });
const tags = ['variables'];

/** Variables: named JSON values (`{{ variables.<name> }}` in automation templates, getVariable in flows). */
export const variableRoutes: RouteModule = (app, { rt }) => {
  app.get(
    '/api/variables',
    { schema: { operationId: 'listVariables', tags, summary: 'List variables', response: { 200: pageOf(VariableSchema) } } },
    async () => ({ items: await listVariables(rt.pg), next_cursor: null }),
  );

  app.post(
    '/api/variables',
    { schema: { operationId: 'createVariable', tags, summary: 'Create a variable (409 when the name exists)', body: VariableInputSchema, response: { 201: VariableSchema } } },
    async (req, reply) => reply.code(201).send(await createVariable(rt.pg, req.body)),
  );

  app.get(
    '/api/variables/:name',
    { schema: { operationId: 'getVariable', tags, summary: 'Read a variable', params: NameParams, response: { 200: VariableSchema } } },
    async (req) => getVariable(rt.pg, req.params.name),
  );

  app.put(
    '/api/variables/:name',
    {
      schema: { operationId: 'putVariable', tags, summary: 'Create or replace a variable', params: NameParams, body: VariableUpdateSchema, response: { 200: VariableSchema, 201: VariableSchema } },
    },
    async (req, reply) => {
      const { variable, created } = await putVariable(rt.pg, req.params.name, req.body.value, req.body.tags);
      return reply.code(created ? 201 : 200).send(variable);
    },
  );

  app.delete(
    '/api/variables/:name',
    { schema: { operationId: 'deleteVariable', tags, summary: 'Delete a variable', params: NameParams, response: { 204: z.undefined() } } },
    async (req, reply) => {
      await deleteVariable(rt.pg, req.params.name);
      return reply.code(204).send();
    },
  );
};
