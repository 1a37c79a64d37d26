// `npm run schemas`: writes schemas/json/<name>.schema.json for every entry of schemas/index.ts and removes stale ones.
import { mkdirSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { generateSchemaFiles, JSON_SCHEMA_DIR } from '../schemas/generate.ts';

const dir = join(import.meta.dirname, '..', JSON_SCHEMA_DIR);
mkdirSync(dir, { recursive: true });
const files = generateSchemaFiles();
for (const [name, content] of files) writeFileSync(join(dir, name), content);
for (const name of readdirSync(dir)) {
  if (name.endsWith('.schema.json') && !files.has(name)) rmSync(join(dir, name));
}
process.stdout.write(`wrote ${files.size} JSON Schema files to ${JSON_SCHEMA_DIR}/\n`);
