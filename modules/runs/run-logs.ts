import type { Pool } from '../../infra/db.ts';
import type { Logger } from '../../core/log.ts';
import type { LogLine } from '../../schemas/flow-run.ts';

/**
 * Buffers run log lines and writes them with one multi-row insert per batch (every `intervalMs`, or at
 * once when `maxLines` are waiting). A failed write is retried with the next batch, up to a cap, so a
 * short database outage loses nothing and a long one cannot eat the process's memory.
 */
export class LogWriter {
  private buffer: LogLine[] = [];
  private timer: NodeJS.Timeout | undefined;
  private writing: Promise<void> | undefined;

  constructor(
    private readonly pg: Pool,
    private readonly log: Logger,
    private readonly options: { intervalMs?: number; maxLines?: number; maxBuffered?: number } = {},
  ) {}

  append(lines: LogLine[]): void {
    this.buffer.push(...lines);
    const cap = this.options.maxBuffered ?? 100_000;
    if (this.buffer.length > cap) {
      const dropped = this.buffer.length - cap;
      this.buffer.splice(0, dropped);
      this.log.warn({ dropped }, 'run log buffer full; oldest lines dropped');
    }
    if (this.buffer.length >= (this.options.maxLines ?? 1000)) void this.flush().catch(() => {});
    else this.timer ??= this.later(this.options.intervalMs ?? 100);
  }

  /** A flush soon; it never keeps the process alive (shutdown flushes explicitly, before closing the pool). */
  private later(ms: number): NodeJS.Timeout {
    const timer = setTimeout(() => void this.flush().catch(() => {}), ms);
    timer.unref();
    return timer;
  }

  /** Writes everything buffered so far; resolves once it is committed. */
  async flush(): Promise<void> {
    clearTimeout(this.timer);
    this.timer = undefined;
    while (this.writing) await this.writing.catch(() => {});
    if (this.buffer.length === 0) return;
    const lines = this.buffer;
    this.buffer = [];
    this.writing = this.write(lines)
      .catch((err) => {
        this.buffer.unshift(...lines);
        this.log.error({ err, lines: lines.length }, 'could not store run logs; will retry');
        throw err;
      })
      .finally(() => {
        this.writing = undefined;
        if (this.buffer.length > 0) this.timer ??= this.later(1000);
      });
    await this.writing;
  }

  private async write(lines: LogLine[]): Promise<void> {
    const rows = lines.map((l) => ({
      flow_run_id: l.flow_run_id,
      task_run_id: l.task_run_id ?? null,
      level: l.level,
      message: l.message,
      timestamp: l.timestamp,
      fields: l.fields ?? {},
    }));
    await this.pg.query(
      `INSERT INTO logs (flow_run_id, task_run_id, level, message, timestamp, fields)
       SELECT flow_run_id, task_run_id, level, message, timestamp, fields
       FROM ROWS FROM (jsonb_to_recordset($1::jsonb) AS (flow_run_id uuid, task_run_id uuid, level int, message text, timestamp timestamptz, fields jsonb))
         WITH ORDINALITY AS x(flow_run_id, task_run_id, level, message, timestamp, fields, ord)
       ORDER BY ord`,
      [JSON.stringify(rows)],
    );
  }
}
