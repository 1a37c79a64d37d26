import { z } from 'zod';

/** Artifacts: what a run shows people, stored with the flow run (and task run) that made it. */

export const ArtifactType = { table: 'table', markdown: 'markdown', link: 'link', progress: 'progress' } as const;
export type ArtifactType = (typeof ArtifactType)[keyof typeof ArtifactType];
export const ArtifactTypeSchema = z.enum(Object.values(ArtifactType) as [ArtifactType, ...ArtifactType[]]);

/** Lowercase letters, digits and dashes (as Prefect), so a key reads well in a URL. */
export const ARTIFACT_KEY_PATTERN = /^[a-z0-9](?:[a-z0-9-]{0,98}[a-z0-9])?$/;
export const ArtifactKeySchema = z
  .string()
  .regex(ARTIFACT_KEY_PATTERN, 'use lowercase letters, digits and "-" (at most 100, not starting or ending with "-")')
  .describe('Optional key: each artifact created with it is a new version; the newest is the current one.');

export const ArtifactSchema = z
  .object({
    id: z.string(),
    key: z.string().nullable(),
    type: ArtifactTypeSchema,
    description: z.string().nullable(),
    /**
     * table: `{ rows: [...records] }` or `{ columns: { name: [...] } }` as given; markdown: `{ markdown }`;
     * link: `{ url, text }`; progress: `{ progress }` (0 to 100).
     */
    data: z.record(z.string(), z.unknown()),
    flow_run_id: z.string().nullable(),
    task_run_id: z.string().nullable(),
    created: z.iso.datetime({ offset: true }),
    updated: z.iso.datetime({ offset: true }),
  })
  .describe('An artifact of a run.');
export type Artifact = z.output<typeof ArtifactSchema>;

export const ArtifactListQuerySchema = z
  .object({
    key: z.string().max(100).optional(),
    flow_run_id: z.uuid().optional(),
    task_run_id: z.uuid().optional(),
    type: ArtifactTypeSchema.optional(),
    limit: z.coerce.number().int().min(1).max(200).default(50),
    cursor: z.uuid().optional(),
  })
  .strict();
export type ArtifactListQuery = z.output<typeof ArtifactListQuerySchema>;
