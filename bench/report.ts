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

export interface BenchResult {
  name: string;
  rows: BenchRow[];
  /** Extra context (machine, counts, settings). */
  notes?: Record<string, unknown>;
}

export function printResult(result: BenchResult, json: boolean): void {
  if (json) {
    const figures: Record<string, number> = {};
    for (const r of result.rows) figures[r.metric] = r.value;
    process.stdout.write(JSON.stringify({ bench: result.name, figures, units: Object.fromEntries(result.rows.map((r) => [r.metric, r.unit])), notes: result.notes ?? {} }) + '\n');
    return;
  }
  const width = Math.max(...result.rows.map((r) => r.metric.length), 6);
  process.stdout.write(`\n${result.name}\n${'-'.repeat(width + 40)}\n`);
  for (const r of result.rows) {
    const value = Number.isInteger(r.value) ? String(r.value) : r.value.toFixed(r.value < 10 ? 3 : 1);
    process.stdout.write(`${r.metric.padEnd(width)}  ${value.padStart(12)} ${r.unit.padEnd(10)} ${r.target ? `target ${r.target}` : ''}\n`);
  }
  if (result.notes) for (const [k, v] of Object.entries(result.notes)) process.stdout.write(`  ${k}: ${typeof v === 'string' ? v : JSON.stringify(v)}\n`);
}

export function percentile(sorted: number[], p: number): number {
  if (sorted.length === 0) return NaN;
  const idx = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1));
  return sorted[idx];
}
