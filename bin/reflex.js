#!/usr/bin/env node
// The `reflex` command: runs the compiled CLI (dist/cli/reflex.mjs, built by scripts/build-cli.mjs during
// `npm ci`), rebuilding it first when it is missing or older than a source it was built from, so a
// checkout that changed never runs stale code.
import { readFileSync, statSync } from 'node:fs';

const root = new URL('..', import.meta.url);
const bundle = new URL('dist/cli/reflex.mjs', root);

function stale() {
  let built;
  try {
    built = statSync(bundle).mtimeMs;
    for (const file of JSON.parse(readFileSync(new URL('dist/cli/inputs.json', root), 'utf8'))) {
      if (statSync(new URL(file, root)).mtimeMs > built) return true;
    }
    return false;
  } catch {
    return true;
  }
}

if (stale()) await (await import('../scripts/build-cli.mjs')).buildCli();
await import(bundle.href);
