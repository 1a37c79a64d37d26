import type { ScenarioResult } from './result.ts';

export interface SuiteReport {
  settings: Record<string, unknown>;
  passed: boolean;
  duration_seconds: number;
  scenarios: ScenarioResult[];
}

/** One table per scenario (criteria, then recovery figures), then a summary line per scenario. */
export function formatReport(report: SuiteReport): string {
  const lines: string[] = [];
  for (const s of report.scenarios) {
    lines.push('', `${s.scenario}: ${s.description}  [${s.passed ? 'PASS' : 'FAIL'}]`);
    if (s.error) lines.push(`  error: ${s.error}`);
    if (s.criteria.length > 0) {
      lines.push(
        table(
          ['criterion', 'value', 'result', 'detail'],
          s.criteria.map((c) => [c.name, c.value, c.pass ? 'pass' : 'FAIL', c.note ?? '']),
        ),
      );
    }
    if (s.recovery.length > 0) {
      lines.push(table(['recovery', 'seconds', 'detail'], s.recovery.map((m) => [m.name, m.seconds === null ? '-' : m.seconds.toFixed(1), m.note ?? ''])));
    }
    const info = s.info;
    if (info.start_times_seconds) lines.push(`  start times (s): ${JSON.stringify(info.start_times_seconds)}`);
    if (info.load_average_1m) lines.push(`  machine load average (1 min) at start / end: ${JSON.stringify(info.load_average_1m)}`);
    if (info.ingest_attempts) lines.push(`  ingest attempts: ${Object.entries(info.ingest_attempts as Record<string, string>).map(([k, v]) => `${k} ${v}`).join('; ')}`);
    if (s.logDir) lines.push(`  service logs: ${s.logDir}`);
  }
  lines.push('', table(['scenario', 'result', 'failed criteria'], report.scenarios.map((s) => [s.scenario, s.passed ? 'PASS' : 'FAIL', failures(s)])));
  lines.push(`${report.passed ? 'every criterion passed' : 'some criteria failed'} in ${report.duration_seconds} s`);
  return lines.join('\n');
}

function failures(s: ScenarioResult): string {
  const failed = s.criteria.filter((c) => !c.pass).map((c) => `${c.name} = ${c.value}`);
  if (s.error) failed.unshift(`error: ${s.error.split('\n')[0]}`);
  return failed.join('; ');
}

function table(header: string[], rows: string[][]): string {
  // The last column is free text and is not padded.
  const widths = header.map((h, i) => (i === header.length - 1 ? 0 : Math.max(h.length, ...rows.map((r) => r[i].length))));
  const line = (cells: string[]) => `  ${cells.map((c, i) => (i === cells.length - 1 ? c : c.padEnd(widths[i]))).join('  ')}`.trimEnd();
  return [line(header), line(widths.map((w, i) => '-'.repeat(i === header.length - 1 ? header[i].length : w))), ...rows.map(line)].join('\n');
}
