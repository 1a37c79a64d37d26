import Table from 'cli-table3';

/** A column of a human table: its heading and how to show a row's value. */
export interface Column<T> {
  head: string;
  value: (row: T) => unknown;
}

/** Shows a value in a table cell: dates shortened, objects as compact JSON, long text cut. */
export function cell(v: unknown, max = 60): string {
  if (v === null || v === undefined || v === '') return '-';
  let s = typeof v === 'string' ? v : typeof v === 'number' || typeof v === 'boolean' ? String(v) : JSON.stringify(v);
  if (/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d/.test(s)) s = s.replace('T', ' ').replace(/\.\d+/, '').replace(/(Z|\+00:00)$/, 'Z');
  return s.length > max ? `${s.slice(0, max - 1)}…` : s;
}

/** Prints rows as a table (borderless, one line per row), or a note when there are none. */
export function printTable<T>(rows: readonly T[], columns: ReadonlyArray<Column<T>>, empty = 'nothing found'): void {
  if (rows.length === 0) {
    process.stdout.write(`${empty}\n`);
    return;
  }
  const table = new Table({
    head: columns.map((c) => c.head),
    style: { head: [], border: [], compact: true, 'padding-left': 0, 'padding-right': 2 },
    chars: { top: '', 'top-mid': '', 'top-left': '', 'top-right': '', bottom: '', 'bottom-mid': '', 'bottom-left': '', 'bottom-right': '', left: '', 'left-mid': '', mid: '', 'mid-mid': '', right: '', 'right-mid': '', middle: '' },
  });
  for (const r of rows) table.push(columns.map((c) => cell(c.value(r))));
  process.stdout.write(`${table.toString().split("\n").map((l) => l.trimEnd()).join("\n")}\n`);
}

/** Prints one object as `key  value` lines (nested objects as compact JSON). */
export function printRecord(record: Record<string, unknown>): void {
  const width = Math.max(...Object.keys(record).map((k) => k.length));
  for (const [k, v] of Object.entries(record)) process.stdout.write(`${k.padEnd(width)}  ${cell(v, 200)}\n`);
}

/** Prints a value as JSON (what `--json` prints: the API's answer, unchanged). */
export function printJson(value: unknown): void {
  process.stdout.write(`${JSON.stringify(value, null, 2)}\n`);
}

/** After a page, says how to get the next one. */
export function printNextCursor(next: string | null | undefined): void {
  if (next) process.stderr.write(`more: --cursor ${next}\n`);
}
