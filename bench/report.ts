/**
 * Output for every benchmark: a readable table, or with `--json` one JSON object of figures and ratios.
 */
export interface BenchRow {
  metric: string;
  value: number;
  unit: string;
  /** What the figure is aimed at, e.g. ">= 8000" or "< 5". */
  target?: string;
}

/** A grid of figures (one line per phase, say) for benches with more figures than a list reads well. */
export interface BenchTable {
  title: string;
  columns: string[];
  /** One cell per column; numbers are printed rounded. */
  rows: (string | number)[][];
}

export interface BenchResult {
  name: string;
  rows: BenchRow[];
  tables?: BenchTable[];
  /** Extra context (machine, counts, settings). */
  notes?: Record<string, unknown>;
}

export function printResult(result: BenchResult, json: boolean): void {
  if (json) {
    const figures: Record<string, number> = {};
    for (const r of result.rows) figures[r.metric] = r.value;
    const tables = result.tables?.map((t) => ({ title: t.title, rows: t.rows.map((row) => Object.fromEntries(t.columns.map((c, i) => [c, row[i]]))) }));
    process.stdout.write(JSON.stringify({ bench: result.name, figures, units: Object.fromEntries(result.rows.map((r) => [r.metric, r.unit])), ...(tables ? { tables } : {}), notes: result.notes ?? {} }) + '\n');
    return;
  }
  const width = Math.max(...result.rows.map((r) => r.metric.length), 6);
  process.stdout.write(`\n${result.name}\n${'-'.repeat(width + 40)}\n`);
  for (const r of result.rows) {
    process.stdout.write(`${r.metric.padEnd(width)}  ${formatNumber(r.value).padStart(12)} ${r.unit.padEnd(10)} ${r.target ? `target ${r.target}` : ''}\n`);
  }
  for (const t of result.tables ?? []) process.stdout.write(`\n${formatTable(t)}`);
  if (result.notes) for (const [k, v] of Object.entries(result.notes)) process.stdout.write(`  ${k}: ${typeof v === 'string' ? v : JSON.stringify(v)}\n`);
}

function formatNumber(value: number): string {
  if (Number.isNaN(value)) return '-';
  return Number.isInteger(value) ? String(value) : value.toFixed(Math.abs(value) < 10 ? 3 : 1);
}

/** Columns padded to their widest cell; text left-aligned, numbers right-aligned. */
export function formatTable(t: BenchTable): string {
  const cell = (c: string | number) => (typeof c !== 'number' ? c : Number.isNaN(c) ? '-' : Number.isInteger(c) ? String(c) : c.toFixed(Math.abs(c) < 1 ? 3 : 1));
  const cells = t.rows.map((row) => row.map(cell));
  const widths = t.columns.map((c, i) => Math.max(c.length, ...cells.map((row) => (row[i] ?? '').length)));
  const numeric = t.columns.map((_, i) => t.rows.every((row) => typeof row[i] === 'number'));
  const line = (row: string[]) => row.map((c, i) => (numeric[i] ? c.padStart(widths[i]) : c.padEnd(widths[i]))).join('  ').trimEnd();
  return [t.title, line(t.columns), widths.map((w) => '-'.repeat(w)).join('  '), ...cells.map(line), ''].join('\n') + '\n';
}

export function percentile(sorted: number[], p: number): number {
  if (sorted.length === 0) return NaN;
  const idx = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1));
  return sorted[idx];
}
