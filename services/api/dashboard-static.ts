import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Logger } from '../../core/log.ts';
import { DIST_DIR, ensureDashboardBuilt } from '../../dashboard/build.ts';

/**
 * The dashboard's static shell: index.html for every page path (the client routes), the bundle under
 * /assets. The shell is public (it holds no data; every API call it makes is protected), and every answer
 * carries a strict Content-Security-Policy: scripts, styles and connections from this origin only,
 * nothing inline, no frames, so nothing taken from an event or a response could run as script even if
 * the page ever rendered it as markup.
 */

export const CONTENT_SECURITY_POLICY = [
  "default-src 'none'",
  "script-src 'self'",
  "style-src 'self'",
  "img-src 'self' data:",
  "connect-src 'self'",
  "font-src 'self'",
  "base-uri 'none'",
  "form-action 'self'",
  "frame-ancestors 'none'",
].join('; ');

export const SECURITY_HEADERS = {
  'content-security-policy': CONTENT_SECURITY_POLICY,
  'x-content-type-options': 'nosniff',
  'referrer-policy': 'no-referrer',
  'x-frame-options': 'DENY',
  'cross-origin-opener-policy': 'same-origin',
};

/** Top-level paths of the dashboard's pages (client-side routes); each also takes `/<page>/<id>`. */
export const DASHBOARD_PAGES = ['runs', 'deployments', 'work-pools', 'events', 'automations', 'deliveries', 'concurrency', 'variables', 'secrets'] as const;

export const ASSET_TYPES: Record<string, string> = { js: 'text/javascript; charset=utf-8', css: 'text/css; charset=utf-8' };

export interface DashboardBundle {
  index: Buffer;
  /** File name (content-hashed) → contents. */
  assets: Map<string, Buffer>;
}

/**
 * The bundle to serve, built first when stale. A failed build (a read-only file system, a broken source)
 * never stops the API: the last good bundle is served, or, without one, no dashboard (undefined).
 */
export async function loadDashboard(log: Logger, distDir = DIST_DIR): Promise<DashboardBundle | undefined> {
  const started = performance.now();
  try {
    if (await ensureDashboardBuilt(distDir)) log.info({ ms: Math.round(performance.now() - started) }, 'dashboard built');
  } catch (err) {
    log.warn({ err }, 'dashboard build failed; serving the last bundle built, if any (npm run build:dashboard shows why)');
  }
  const index = await readFile(join(distDir, 'index.html')).catch(() => undefined);
  if (!index) {
    log.error('dashboard unavailable: no bundle in dashboard/dist (run npm run build:dashboard)');
    return undefined;
  }
  const assets = new Map<string, Buffer>();
  for (const name of await readdir(distDir)) {
    if (ASSET_TYPES[name.split('.').pop() ?? '']) assets.set(name, await readFile(join(distDir, name)));
  }
  return { index, assets };
}
