import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import type { Browser, Page } from 'playwright-core';

/**
 * A real browser for the dashboard's end-to-end tests: Debian's Chromium driven by playwright-core
 * (which never downloads a browser). Without one the tests skip with one line saying how to get it.
 * The flags keep Chromium off the network: this machine refuses outside connections, and a browser
 * that tries them stalls. Playwright gives every launch a fresh temporary --user-data-dir of its own and
 * deletes it on close.
 */
export const CHROMIUM = process.env.REFLEX_CHROMIUM ?? '/usr/bin/chromium';
export const browserMissing: string | false = existsSync(CHROMIUM) ? false : `no browser at ${CHROMIUM} (apt-get install chromium, or set REFLEX_CHROMIUM)`;

export interface TestBrowser {
  browser: Browser;
  /** A new page with console errors and failed requests recorded. */
  page(options?: { colorScheme?: 'light' | 'dark'; width?: number; height?: number }): Promise<Page & { problems: string[] }>;
  close(): Promise<void>;
}

export async function launchBrowser(): Promise<TestBrowser> {
  const { chromium } = await import('playwright-core');
  const browser = await chromium.launch({
    executablePath: CHROMIUM,
    headless: true,
    args: [
      '--headless',
      '--no-sandbox',
      '--disable-gpu',
      '--disable-quic',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
      '--disable-dev-shm-usage',
    ],
  });
  return {
    browser,
    async page(options = {}) {
      const context = await browser.newContext({ colorScheme: options.colorScheme ?? 'light', viewport: { width: options.width ?? 1280, height: options.height ?? 900 } });
      const page = (await context.newPage()) as Page & { problems: string[] };
      page.problems = [];
      page.on('console', (m) => {
        if (m.type() === 'error') page.problems.push(`console: ${m.text()}`);
      });
      page.on('pageerror', (e) => page.problems.push(`page error: ${e.message}`));
      return page;
    },
    async close() {
      await browser.close().catch(() => {});
    },
  };
}

const require = createRequire(import.meta.url);
let axeSource: string | undefined;

export interface AxeViolation {
  id: string;
  impact: string | null;
  help: string;
  nodes: Array<{ target: unknown[]; failureSummary?: string }>;
}

/** Runs axe-core in the page (injected as a script; the page's CSP applies to the page, not to this). */
export async function axeScan(page: Page): Promise<AxeViolation[]> {
  axeSource ??= await readFile(require.resolve('axe-core/axe.min.js'), 'utf8');
  await page.evaluate(axeSource);
  return page.evaluate(async () => {
    const axe = (window as unknown as { axe: { run: (ctx: Document, o: object) => Promise<{ violations: AxeViolation[] }> } }).axe;
    const r = await axe.run(document, { resultTypes: ['violations'] });
    return r.violations.map((v) => ({ id: v.id, impact: v.impact, help: v.help, nodes: v.nodes.slice(0, 3).map((n) => ({ target: n.target, failureSummary: n.failureSummary })) }));
  });
}
