import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { z } from 'zod';
import { emitEvent, flow, getRunContext, getRunLogger, NonRetriableError, task } from 'reflex/sdk';

/**
 * An ETL flow: extract the orders of one day from a source (a JSON file in flows/data, or an http(s)
 * URL), transform them in batches (cached, fanned out), load the per-customer totals through a subflow,
 * and announce the load with an `etl.batch.loaded` event an automation can react to.
 */

const DATA_DIR = join(dirname(fileURLToPath(import.meta.url)), 'data');

const OrderSchema = z.object({
  id: z.string(),
  date: z.string(),
  customer: z.string(),
  amount_cents: z.number().int(),
  currency: z.string(),
});
type Order = z.infer<typeof OrderSchema>;

export const EtlParameters = z.object({
  source: z.string().min(1).default('orders').describe('A file name in flows/data (without .json) or an http(s) URL returning a JSON array of orders.'),
  date: z.string().regex(/^\d{4}-\d{2}-\d{2}$/, 'must be YYYY-MM-DD').default('2024-06-01').describe('Day whose orders are processed.'),
  batch_size: z.number().int().min(1).max(1000).default(10),
});

/** Reads the source; flaky networks are why it retries, with backoff and jitter. */
export const extract = task(
  { name: 'extract', retries: 3, retryDelaySeconds: [1, 2, 4], retryJitterFactor: 0.2, timeoutSeconds: 30 },
  async (source: string, date: string): Promise<Order[]> => {
    const { signal } = getRunContext();
    let raw: unknown;
    if (/^https?:\/\//.test(source)) {
      const res = await fetch(source, { signal });
      if (!res.ok) throw new Error(`GET ${source} answered ${res.status}`);
      raw = await res.json();
    } else {
      if (!/^[A-Za-z0-9_-]+$/.test(source)) throw new NonRetriableError(`source "${source}" must be a file name in flows/data or an http(s) URL`);
      raw = JSON.parse(await readFile(join(DATA_DIR, `${source}.json`), 'utf8'));
    }
    const orders = z.array(OrderSchema).safeParse(raw);
    if (!orders.success) throw new NonRetriableError(`source "${source}" is not a list of orders: ${orders.error.issues[0]?.message}`);
    const day = orders.data.filter((o) => o.date === date);
    getRunLogger().info({ source, date, orders: day.length }, 'extracted orders');
    return day;
  },
);

/** Totals per customer for one batch; the same batch is never computed twice within an hour. */
export const transformBatch = task(
  { name: 'transform-batch', cacheKey: 'inputs', cacheExpirationSeconds: 3600 },
  async (batch: Order[]): Promise<Record<string, number>> => {
    const totals: Record<string, number> = {};
    for (const o of batch) totals[o.customer] = (totals[o.customer] ?? 0) + o.amount_cents;
    return totals;
  },
);

/** Writes the day's summary where a downstream system picks it up. */
export const loadSummary = flow(
  { name: 'load-summary', retries: 1, retryDelaySeconds: 1 },
  async (summary: { source: string; date: string; totals: Record<string, number>; orders: number }): Promise<string> => {
    const dir = resolve(process.env.REFLEX_ETL_OUTPUT_DIR ?? join(tmpdir(), 'reflex-etl'));
    await mkdir(dir, { recursive: true });
    const path = join(dir, `${summary.source}-${summary.date}.json`);
    await writeFile(path, JSON.stringify(summary, null, 2) + '\n');
    getRunLogger().info({ path }, 'summary written');
    return path;
  },
);

export const etl = flow(
  { name: 'etl', description: 'Daily order totals per customer', parameters: EtlParameters, retries: 1, retryDelaySeconds: 5, timeoutSeconds: 300, tags: ['etl', 'example'] },
  async ({ source, date, batch_size }) => {
    const log = getRunLogger();
    const orders = await extract(source, date);
    const batches: Order[][] = [];
    for (let i = 0; i < orders.length; i += batch_size) batches.push(orders.slice(i, i + batch_size));
    const partials = await transformBatch.map(batches);
    const totals: Record<string, number> = {};
    for (const part of partials) for (const [customer, cents] of Object.entries(part)) totals[customer] = (totals[customer] ?? 0) + cents;
    const path = await loadSummary({ source, date, totals, orders: orders.length });
    const total_cents = Object.values(totals).reduce((a, b) => a + b, 0);
    await emitEvent({
      event: 'etl.batch.loaded',
      resource: { 'reflex.resource.id': `etl.source.${source}`, 'reflex.resource.name': source },
      payload: { source, date, orders: orders.length, customers: Object.keys(totals).length, total_cents, path },
    });
    log.info({ orders: orders.length, total_cents }, 'etl done');
    return { source, date, orders: orders.length, batches: batches.length, total_cents, path };
  },
);
