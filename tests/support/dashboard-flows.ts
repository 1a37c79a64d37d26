import { createLinkArtifact, createMarkdownArtifact, createProgressArtifact, createTableArtifact, flow, getRunLogger, NonRetriableError, pauseFlowRun, suspendFlowRun, task, updateProgressArtifact } from 'reflex/sdk';
import { z } from 'zod';

/**
 * Flows the dashboard tests and screenshots run: a pipeline whose tasks take long enough to be seen
 * RUNNING, one of which fails once and is retried, with log lines at several levels; and a flow that
 * fails for good with a coded error.
 */
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const failedOnce = new Set<string>();

export const fetchRows = task({ name: 'fetch-rows', retries: 1, retryDelaySeconds: 0.2 }, async (key: string, ms: number) => {
  await sleep(ms);
  if (!failedOnce.has(key)) {
    failedOnce.add(key);
    getRunLogger().warn({ key }, 'source timed out, retrying');
    throw new Error('source timed out');
  }
  getRunLogger().info({ rows: 3 }, 'fetched 3 rows');
  return [1, 2, 3];
});

export const scoreRow = task({ name: 'score-row' }, async (row: number, ms: number) => {
  await sleep(ms);
  return row * 10;
});

export const pipeline = flow({ name: 'dash-pipeline' }, async (params: { key?: string; step_ms?: number } = {}) => {
  const ms = params.step_ms ?? 300;
  const log = getRunLogger();
  log.info({ params }, 'pipeline started');
  const rows = await fetchRows(params.key ?? 'default', ms);
  const scores = await scoreRow.map(rows, rows.map(() => ms));
  log.info({ scores }, 'scored every row');
  log.error('a sample error line (the run still completes)');
  return { total: scores.reduce((a, b) => a + b, 0) };
});

export const failingExport = flow({ name: 'dash-failing' }, async () => {
  getRunLogger().info('connecting to the warehouse');
  throw new NonRetriableError('the warehouse refused the connection');
});

// Resume form (issue 13): flows that wait for typed input, resumed from the run page.
/** What a release needs to go on: the form on the run page is generated from this schema. */
export const ReleaseApproval = z.object({
  approved: z.boolean().describe('Ship this release?'),
  limit: z.number().int().min(1).max(100).describe('How many hosts at once'),
  reviewers: z.array(z.string().min(2)).max(3).describe('Who looked at it, as a JSON list'),
  note: z.string().default('lgtm'),
});

/** Pauses in its process until someone approves; the input is its result. */
export const releaseApproval = flow({ name: 'dash-approval' }, async (params: { timeout?: number } = {}) => {
  getRunLogger().info('waiting for an approval');
  return pauseFlowRun({ timeoutSeconds: params.timeout ?? 600, input: ReleaseApproval });
});

/** Suspends (the worker slot is given back) until someone approves. */
export const releaseSuspended = flow({ name: 'dash-suspended-approval' }, async (params: { timeout?: number } = {}) => {
  return suspendFlowRun({ timeoutSeconds: params.timeout ?? 3600, input: ReleaseApproval });
});

/** A schema written to attack the page: markup in a field's name, title and description must stay text. */
export const hostileApproval = flow({ name: 'dash-hostile-approval' }, async () => {
  const Hostile = z.object({
    '"><img src=x onerror="window.__pwned=1">': z.string().describe('<script>window.__pwned=2</script><b>bold?</b>'),
    choice: z.enum(['<i>a</i>', 'b']).meta({ title: '<img src=y onerror="window.__pwned=3">' }),
  });
  return pauseFlowRun({ timeoutSeconds: 600, input: Hostile });
});

/** Makes one artifact of each kind; its markdown holds HTML, which the dashboard must show as text. */
export const reporting = flow({ name: 'dash-artifacts' }, async () => {
  await createTableArtifact({ key: 'regions', table: { region: ['eu', 'us'], total: [3, 4] }, description: 'orders by region' });
  await createMarkdownArtifact({ key: 'summary', markdown: '# Report\n<img src=x onerror="window.__pwned = true">' });
  await createLinkArtifact({ link: 'https://example.com/report', linkText: 'the full report' });
  const p = await createProgressArtifact({ progress: 10 });
  if (p) await updateProgressArtifact(p, 60);
  return 'reported';
});
