#!/usr/bin/env node
// Compiles the CLI (cli/compiled.ts and the HTTP commands it bundles) into dist/cli/reflex.mjs with
// esbuild, so `reflex` starts without tsx. Run by `npm ci` (prepare) and by bin/reflex.js whenever a
// source it was built from is newer than the bundle; the output is never committed.
// Plain JavaScript on purpose: it runs before anything can be compiled.
import { mkdirSync, renameSync, writeFileSync } from 'node:fs';
import { relative } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { build } from 'esbuild';

const root = fileURLToPath(new URL('..', import.meta.url));
const outDir = new URL('../dist/cli/', import.meta.url);

/** Builds the bundle and the list of its sources (for the staleness check); answers the bundle's path. */
export async function buildCli() {
  const result = await build({
    entryPoints: [fileURLToPath(new URL('../cli/compiled.ts', import.meta.url))],
    bundle: true,
    platform: 'node',
    format: 'esm',
    target: 'node20',
    // Dependencies load from node_modules as usual: only the project's own TypeScript is compiled.
    packages: 'external',
    write: false,
    metafile: true,
    outfile: fileURLToPath(new URL('reflex.mjs', outDir)),
    logLevel: 'warning',
  });
  mkdirSync(outDir, { recursive: true });
  const inputs = Object.keys(result.metafile.inputs).map((p) => relative(root, fileURLToPath(pathToFileURL(`${root}/${p}`))));
  // Written aside and renamed: two commands starting at once never read half a bundle.
  const tmp = `.${process.pid}.tmp`;
  for (const f of result.outputFiles) {
    writeFileSync(f.path + tmp, f.contents);
    renameSync(f.path + tmp, f.path);
  }
  const list = fileURLToPath(new URL('inputs.json', outDir));
  writeFileSync(list + tmp, JSON.stringify([...inputs, 'package.json', 'scripts/build-cli.mjs']));
  renameSync(list + tmp, list);
  return fileURLToPath(new URL('reflex.mjs', outDir));
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  const out = await buildCli();
  process.stdout.write(`CLI built: ${relative(root, out)}\n`);
}
