import { z } from 'zod';

/** Secret (and variable) names: also Liquid identifiers (`secrets.slack_url`) and safe inside a marker. */
export const SECRET_NAME_PATTERN = /^[A-Za-z][A-Za-z0-9_-]{0,99}$/;
export const SECRET_NAME_RULE = 'must start with a letter and hold only letters, digits, _ and - (at most 100)';

/** Secrets and variables (issue 13): their API contracts. A secret's value goes in, never out. */

export const SECRET_LIMITS = { maxValueBytes: 64 * 1024, maxGrants: 200, maxVariableBytes: 64 * 1024, maxTags: 20 } as const;

export const SecretNameSchema = z.string().regex(SECRET_NAME_PATTERN, SECRET_NAME_RULE);

const grantList = z.array(z.string().min(1).max(200)).max(SECRET_LIMITS.maxGrants).default([]);

export const SecretGrantsSchema = z
  .object({
    deployments: grantList.describe('Deployment ids or `<flow>/<deployment>` names whose runs may read it (getSecret).'),
    work_pools: grantList.describe('Work pool names whose runs may read it.'),
    automations: grantList.describe('Automation ids or names whose actions may use it.'),
  })
  .strict();
export type SecretGrants = z.output<typeof SecretGrantsSchema>;

export const SecretInputSchema = z
  .object({
    name: SecretNameSchema,
    value: z
      .string()
      .min(1)
      .refine((v) => Buffer.byteLength(v) <= SECRET_LIMITS.maxValueBytes, `must be at most ${SECRET_LIMITS.maxValueBytes} bytes`)
      .describe('The value; stored encrypted, never returned.'),
    description: z.string().max(1000).optional(),
    allowed: SecretGrantsSchema.default({ deployments: [], work_pools: [], automations: [] }),
  })
  .strict();
export type SecretInput = z.output<typeof SecretInputSchema>;

/** PUT body: a new value and/or new grants (what is omitted is kept). */
export const SecretUpdateSchema = SecretInputSchema.omit({ name: true }).partial().strict();
export type SecretUpdate = z.output<typeof SecretUpdateSchema>;

export const SecretSchema = z.object({
  name: z.string(),
  description: z.string().nullable(),
  allowed: SecretGrantsSchema,
  created_at: z.string(),
  updated_at: z.string(),
  last_used_at: z.string().nullable(),
});
export type SecretView = z.output<typeof SecretSchema>;

export const VariableNameSchema = z.string().regex(/^[A-Za-z][A-Za-z0-9_-]{0,99}$/, SECRET_NAME_RULE);

const jsonValue = z
  .unknown()
  .refine((v) => v !== undefined, 'is required')
  .refine((v) => Buffer.byteLength(JSON.stringify(v ?? null)) <= SECRET_LIMITS.maxVariableBytes, `must be at most ${SECRET_LIMITS.maxVariableBytes} bytes as JSON`);

export const VariableInputSchema = z
  .object({
    name: VariableNameSchema,
    value: jsonValue.describe('Any JSON value.'),
    tags: z.array(z.string().min(1).max(100)).max(SECRET_LIMITS.maxTags).default([]),
  })
  .strict();
export type VariableInput = z.output<typeof VariableInputSchema>;

export const VariableUpdateSchema = z.object({ value: jsonValue, tags: VariableInputSchema.shape.tags.optional() }).strict();

export const VariableSchema = z.object({
  name: z.string(),
  value: z.unknown(),
  tags: z.array(z.string()),
  created_at: z.string(),
  updated_at: z.string(),
});
export type Variable = z.output<typeof VariableSchema>;
