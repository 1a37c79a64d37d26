import { pino, type Logger } from 'pino';
import type { LogLine } from '../schemas/flow-run.ts';

export type { Logger };

/** Fields every run log line carries; they are columns of the stored line, not part of `fields`. */
const BOUND = new Set(['level', 'time', 'msg', 'flow_run_id', 'task_run_id', 'flow_name', 'task_name', 'flow_run_name']);

/**
 * The base logger of flow and task code: pino JSON lines at `level` and above are stored (for lines bound
 * to a flow run, through `store`: orchestration.appendLogs, which batches the inserts); those at
 * `echoLevel` and above are also written to stdout.
 * Run loggers are children of it bound to `flow_run_id`, `task_run_id`, `flow_name` and `task_name`.
 */
export function createRunLogBase(options: { level: string; echoLevel: string; store?: (lines: LogLine[]) => void; scrub?: (line: string) => string }): Logger {
  const { store, scrub } = options;
  const echoAt = options.echoLevel === 'silent' ? Infinity : (pino.levels.values[options.echoLevel] ?? 30);
  const level = (pino.levels.values[options.level] ?? 30) < echoAt ? options.level : options.echoLevel;
  const destination = {
    write(raw: string): void {
      // Secret values handed to flow code never reach a log line (sdk/revealed.ts).
      const line = scrub ? scrub(raw) : raw;
      let parsed: Record<string, unknown>;
      try {
        parsed = JSON.parse(line) as Record<string, unknown>;
      } catch {
        return;
      }
      if (typeof parsed.level === 'number' && parsed.level >= echoAt) process.stdout.write(line);
      if (!store) return;
      const flowRunId = parsed.flow_run_id;
      if (typeof flowRunId !== 'string') return;
      const fields: Record<string, unknown> = {};
      for (const [k, v] of Object.entries(parsed)) if (!BOUND.has(k)) fields[k] = v;
      store([
        {
          flow_run_id: flowRunId,
          task_run_id: typeof parsed.task_run_id === 'string' ? parsed.task_run_id : null,
          level: typeof parsed.level === 'number' ? parsed.level : 30,
          message: typeof parsed.msg === 'string' ? parsed.msg : '',
          timestamp: new Date(typeof parsed.time === 'number' ? parsed.time : Date.now()).toISOString(),
          fields,
        },
      ]);
    },
  };
  return pino({ level: level === 'silent' ? 'info' : level, base: undefined, redact: { paths: ['secret', '*.secret', 'password', '*.password'], censor: '[redacted]' } }, destination);
}
