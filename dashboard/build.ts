import { createHash } from 'node:crypto';
import { mkdir, readdir, readFile, rename, stat, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

/**
 * Builds the dashboard (dashboard/src → dashboard/dist) with esbuild: one ES module bundle and one
 * stylesheet, content-hashed, and an index.html naming them. The output is never committed; `npm ci`
 * builds it (the `prepare` script) and the API rebuilds it on start when a source is newer, so a
 * `git pull` without a reinstall never serves an old dashboard.
 */

export const DASHBOARD_DIR = dirname(fileURLToPath(import.meta.url));
export const SRC_DIR = join(DASHBOARD_DIR, 'src');
export const DIST_DIR = join(DASHBOARD_DIR, 'dist');
const INDEX = 'index.html';

async function newestMtime(dir: string): Promise<number> {
  let newest = 0;
  for (const entry of await readdir(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    newest = Math.max(newest, entry.isDirectory() ? await newestMtime(path) : (await stat(path)).mtimeMs);
  }
  return newest;
}

/** True when dist/index.html is missing or older than any source, this file or the lockfile. */
export async function dashboardIsStale(distDir = DIST_DIR): Promise<boolean> {
  const built = await stat(join(distDir, INDEX)).then((s) => s.mtimeMs, () => 0);
  if (built === 0) return true;
  const inputs = [
    await newestMtime(SRC_DIR),
    (await stat(fileURLToPath(import.meta.url))).mtimeMs,
    await stat(join(DASHBOARD_DIR, '..', 'package-lock.json')).then((s) => s.mtimeMs, () => 0),
  ];
  return Math.max(...inputs) > built;
}

export interface BuildResult {
  /** File names in dist, e.g. `app-3f2a9c1d.js`. */
  script: string;
  stylesheet: string;
  bytes: { script: number; stylesheet: number };
}

const hash = (data: Uint8Array) => createHash('sha256').update(data).digest('hex').slice(0, 12);

/**
 * Builds into distDir. Safe to run from several processes at once (parallel test files): assets have
 * content-hashed names, and index.html is written to a temporary file and renamed, so a reader sees
 * either the old or the new page, never half of one.
 */
export async function buildDashboard(distDir = DIST_DIR): Promise<BuildResult> {
  // Loaded only to build: an API serving a bundle already built never loads the bundler.
  const { build } = await import('esbuild');
  const out = await build({
    entryPoints: [join(SRC_DIR, 'main.tsx'), join(SRC_DIR, 'styles.css')],
    bundle: true,
    format: 'esm',
    target: 'es2022',
    minify: true,
    write: false,
    outdir: distDir,
    jsx: 'automatic',
    jsxImportSource: 'preact',
    legalComments: 'none',
    logLevel: 'silent',
  });
  await mkdir(distDir, { recursive: true });
  let script = '';
  let stylesheet = '';
  const bytes = { script: 0, stylesheet: 0 };
  for (const file of out.outputFiles) {
    const ext = file.path.endsWith('.css') ? 'css' : 'js';
    const name = `app-${hash(file.contents)}.${ext}`;
    await writeFile(join(distDir, name), file.contents);
    if (ext === 'css') [stylesheet, bytes.stylesheet] = [name, file.contents.length];
    else [script, bytes.script] = [name, file.contents.length];
  }
  const html = await readFile(join(DASHBOARD_DIR, 'index.html'), 'utf8');
  const page = html.replace('%SCRIPT%', `/assets/${script}`).replace('%STYLESHEET%', `/assets/${stylesheet}`);
  const tmp = join(distDir, `${INDEX}.${process.pid}.${Date.now()}.tmp`);
  await writeFile(tmp, page);
  await rename(tmp, join(distDir, INDEX));
  return { script, stylesheet, bytes };
}

/** Builds when stale; answers whether it built. */
export async function ensureDashboardBuilt(distDir = DIST_DIR): Promise<boolean> {
  if (!(await dashboardIsStale(distDir))) return false;
  await buildDashboard(distDir);
  return true;
}
