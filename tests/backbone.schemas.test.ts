import assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { generateSchemaFiles, JSON_SCHEMA_DIR } from '../schemas/generate.ts';

const DIR = join(import.meta.dirname, '..', JSON_SCHEMA_DIR);
const HINT = 'run `npm run schemas` and commit the result';

describe('published JSON Schema files', () => {
  const expected = generateSchemaFiles();

  it('each committed file is exactly what the zod schema generates', () => {
    for (const [name, content] of expected) {
      const path = join(DIR, name);
      assert.ok(existsSync(path), `${JSON_SCHEMA_DIR}/${name} is missing: ${HINT}`);
      assert.ok(readFileSync(path, 'utf8') === content, `${JSON_SCHEMA_DIR}/${name} is out of date: ${HINT}`);
    }
  });

  it('no stale file is left for a schema that is no longer published', () => {
    const stale = readdirSync(DIR).filter((f) => f.endsWith('.schema.json') && !expected.has(f));
    assert.deepEqual(stale, [], `stale files in ${JSON_SCHEMA_DIR}: ${HINT}`);
  });

  it('files are draft 2020-12 documents with $id and title', () => {
    const event = JSON.parse(expected.get('event.schema.json')!);
    assert.equal(event.$schema, 'https://json-schema.org/draft/2020-12/schema');
    assert.equal(event.$id, 'urn:reflex:schema:event');
    assert.equal(event.title, 'Reflex event');
    assert.deepEqual([...event.required].sort(), ['event', 'id', 'occurred', 'payload', 'related', 'resource']);
    const input = JSON.parse(expected.get('event-input.schema.json')!);
    assert.deepEqual([...input.required].sort(), ['event', 'resource']);
  });
});
