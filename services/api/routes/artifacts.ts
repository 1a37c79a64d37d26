import { z } from 'zod';
import { NotFoundError } from '../../../core/errors.ts';
import { Artifacts } from '../../../modules/artifacts/index.ts';
import { pageOf } from '../../../schemas/common.ts';
import { ArtifactKeySchema, ArtifactListQuerySchema, ArtifactSchema } from '../../../schemas/artifact.ts';
import type { RouteModule } from '../route-module.ts';

const tags = ['artifacts'];

/** Artifacts of runs (flow authors, issue 13): made by flow code through the SDK, read here. */
export const artifactRoutes: RouteModule = (app, { rt }) => {
  const artifacts = new Artifacts(rt.pg, null);
  app.get(
    '/api/artifacts',
    {
      schema: {
        operationId: 'listArtifacts',
        tags,
        summary: 'List artifacts, newest first (filter by key, flow run, task run, type)',
        querystring: ArtifactListQuerySchema,
        response: { 200: pageOf(ArtifactSchema) },
      },
    },
    async (req) => artifacts.list(req.query),
  );

  app.get(
    '/api/artifacts/latest/:key',
    { schema: { operationId: 'getLatestArtifact', tags, summary: 'The current (newest) version of a key', params: z.object({ key: ArtifactKeySchema }), response: { 200: ArtifactSchema } } },
    async (req) => {
      const a = await artifacts.latest(req.params.key);
      if (!a) throw new NotFoundError('artifact key', req.params.key);
      return a;
    },
  );

  app.get(
    '/api/artifacts/:id',
    { schema: { operationId: 'getArtifact', tags, summary: 'An artifact', params: z.object({ id: z.string().max(100) }), response: { 200: ArtifactSchema } } },
    async (req) => {
      const a = await artifacts.get(req.params.id);
      if (!a) throw new NotFoundError('artifact', req.params.id);
      return a;
    },
  );
};
