import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import { errorCatalogueDoc, ERRORS_DOC } from '../core/errors-doc.ts';
import { ERROR_CATALOGUE } from '../core/errors.ts';

describe('the error catalogue and its documentation', () => {
  it('docs/errors.md lists every code with its status and what to do, as the catalogue has them', () => {
    const doc = readFileSync(new URL(`../${ERRORS_DOC}`, import.meta.url), 'utf8');
    assert.equal(doc, errorCatalogueDoc(doc), 'run `npm run schemas` and commit the result');
    for (const code of Object.keys(ERROR_CATALOGUE)) assert.match(doc, new RegExp(`\\| \`${code}\` \\|`));
  });
});
