import { z } from 'zod';
import { PUBLISHED_SCHEMAS } from './index.ts';

/** Where the generated files live, relative to the repository root. */
export const JSON_SCHEMA_DIR = 'schemas/json';

/**
 * The JSON Schema file for every published contract: file name → exact file content (draft 2020-12,
 * with `$id` and `title`, two-space indent, trailing newline). `npm run schemas` writes these files and
 * tests/backbone.schemas.test.ts fails when a committed one differs, so they cannot drift from the zod.
 */
export function generateSchemaFiles(): Map<string, string> {
  const files = new Map<string, string>();
  for (const name of Object.keys(PUBLISHED_SCHEMAS).sort()) {
    const { schema, io, title } = PUBLISHED_SCHEMAS[name];
    const { $schema, ...rest } = z.toJSONSchema(schema, { target: 'draft-2020-12', io: io ?? 'output', unrepresentable: 'any' });
    const document = { $schema, $id: `urn:reflex:schema:${name}`, title, ...rest };
    files.set(`${name}.schema.json`, `${JSON.stringify(document, null, 2)}\n`);
  }
  return files;
}
