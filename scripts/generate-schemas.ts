// `npm run schemas`: writes every generated file: schemas/json/<name>.schema.json for each entry of
// schemas/index.ts (removing stale ones) and the error table of docs/errors.md. Tests fail on drift.
import { mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { errorCatalogueDoc, ERRORS_DOC } from '../core/errors-doc.ts';
import { generateSchemaFiles, JSON_SCHEMA_DIR } from '../schemas/generate.ts';

const root = join(import.meta.dirname, '..');
const dir = join(root, JSON_SCHEMA_DIR);
mkdirSync(dir, { recursive: true });
const files = generateSchemaFiles();
for (const [name, content] of files) writeFileSync(join(dir, name), content);
for (const name of readdirSync(dir)) {
  if (name.endsWith('.schema.json') && !files.has(name)) rmSync(join(dir, name));
}
const errorsDoc = join(root, ERRORS_DOC);
writeFileSync(errorsDoc, errorCatalogueDoc(readFileSync(errorsDoc, 'utf8')));
process.stdout.write(`wrote ${files.size} JSON Schema files to ${JSON_SCHEMA_DIR}/ and the error table of ${ERRORS_DOC}\n`);
