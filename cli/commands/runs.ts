import type { Command } from 'commander';
import type { FlowRun, LogLine } from '../../schemas/flow-run.ts';
import { ApiAnswerError, callJson, query, seg } from '../http.ts';
import { CliError, EXIT } from '../output.ts';
import { printJson, printNextCursor, printRecord, printTable, type Column } from '../table.ts';

type Page<T> = { items: T[]; next_cursor: string | null };
type RunDetail = FlowRun & { state_history: FlowRun['state'][]; task_runs: { id: string; task_name: string; dynamic_key: string; state: FlowRun['state'] }[] };

export const RUN_COLUMNS: Column<FlowRun>[] = [
  { head: 'ID', value: (r) => r.id },
  { head: 'NAME', value: (r) => r.name },
  { head: 'FLOW', value: (r) => r.flow_name },
  { head: 'STATE', value: (r) => (r.state.name && r.state.name !== r.state.type ? `${r.state.type} (${r.state.name})` : r.state.type) },
  { head: 'CREATED', value: (r) => r.created },
  { head: 'RUN TIME', value: (r) => `${r.total_run_time_seconds.toFixed(1)}s` },
];

/** `reflex runs ls|show|logs|cancel|retry|resume`: flow runs through the API (GET/POST /api/flow-runs). */
export function registerRuns(program: Command): void {
  const runs = program.command('runs').alias('run').description('list, inspect and control flow runs (alias: run)');

  runs
    .command('ls')
    .description('flow runs, newest first (GET /api/flow-runs)')
    .option('--state <states>', 'state types or names, comma-separated: COMPLETED, Late, FAILED,CRASHED')
    .option('--deployment <id>', 'only runs of this deployment id')
    .option('--flow <name>', 'only runs of this flow')
    .option('--tag <tag>', 'only runs with this tag')
    .option('--since <iso>', 'only runs created at or after this time')
    .option('--limit <n>', 'page size (1-500)')
    .option('--cursor <cursor>', 'next page (as printed after a page)')
    .option('--json', 'print the API answer as JSON')
    .action(async (o: { state?: string; deployment?: string; flow?: string; tag?: string; since?: string; limit?: string; cursor?: string; json?: boolean }) => {
      const page = await callJson<Page<FlowRun>>(
        'GET',
        `/api/flow-runs${query({ state: o.state, deployment_id: o.deployment, flow_name: o.flow, tag: o.tag, since: o.since, limit: o.limit, cursor: o.cursor })}`,
      );
      if (o.json) return printJson(page);
      printTable(page.items, RUN_COLUMNS, 'no flow runs');
      printNextCursor(page.next_cursor);
    });

  runs
    .command('show')
    .description('one flow run with its state history and task runs (GET /api/flow-runs/:id)')
    .argument('<id>')
    .option('--json', 'print the API answer as JSON')
    .action(async (id: string, o: { json?: boolean }) => {
      const run = await callJson<RunDetail>('GET', `/api/flow-runs/${seg(id)}`);
      if (o.json) return printJson(run);
      const { state_history, task_runs, state, ...rest } = run;
      printRecord({ ...rest, state: `${state.type} (${state.name})${state.message ? `: ${state.message}` : ''}` });
      process.stdout.write('\nstate history\n');
      printTable(state_history, [
        { head: 'TIME', value: (s) => s.timestamp },
        { head: 'TYPE', value: (s) => s.type },
        { head: 'NAME', value: (s) => s.name },
        { head: 'MESSAGE', value: (s) => s.message },
      ]);
      process.stdout.write('\ntask runs\n');
      printTable(task_runs, [
        { head: 'ID', value: (t) => t.id },
        { head: 'TASK', value: (t) => t.task_name },
        { head: 'KEY', value: (t) => t.dynamic_key },
        { head: 'STATE', value: (t) => t.state.type },
      ], 'no task runs');
    });

  runs
    .command('logs')
    .description("a flow run's log lines, oldest first (GET /api/flow-runs/:id/logs)")
    .argument('<id>')
    .option('--task <task_run_id>', 'only lines of this task run')
    .option('--limit <n>', 'lines per page (1-5000)')
    .option('--cursor <cursor>', 'next page')
    .option('--json', 'print the API answer as JSON')
    .action(async (id: string, o: { task?: string; limit?: string; cursor?: string; json?: boolean }) => {
      const page = await callJson<Page<LogLine & { id: string }>>('GET', `/api/flow-runs/${seg(id)}/logs${query({ task_run_id: o.task, limit: o.limit, cursor: o.cursor })}`);
      if (o.json) return printJson(page);
      if (page.items.length === 0) process.stdout.write('no log lines\n');
      for (const l of page.items) process.stdout.write(`${l.timestamp}  ${levelName(l.level).padEnd(5)}  ${l.message}\n`);
      printNextCursor(page.next_cursor);
    });

  runs
    .command('cancel')
    .description('cancel a flow run (POST /api/flow-runs/:id/cancel)')
    .argument('<id>')
    .option('--message <text>', 'why, kept with the Cancelled state')
    .option('--json', 'print the API answer as JSON')
    .action(async (id: string, o: { message?: string; json?: boolean }) => {
      const run = await callJson<FlowRun>('POST', `/api/flow-runs/${seg(id)}/cancel`, o.message ? { message: o.message } : {});
      printChange(run, o.json);
    });

  runs
    .command('retry')
    .description('run a FAILED or CRASHED flow run again: it becomes SCHEDULED (AwaitingRetry) (POST /api/flow-runs/:id/set-state)')
    .argument('<id>')
    .option('--json', 'print the API answer as JSON')
    .action(async (id: string, o: { json?: boolean }) => {
      const run = await callJson<FlowRun>('POST', `/api/flow-runs/${seg(id)}/set-state`, { state: { type: 'SCHEDULED', name: 'AwaitingRetry', message: 'retried from the CLI' } });
      printChange(run, o.json);
    });

  runs
    .command('resume')
    .description('resume a PAUSED or suspended flow run; --input is checked against the schema the flow asked for (POST /api/flow-runs/:id/resume)')
    .argument('<id>')
    .option('--input <json>', 'the input, a JSON object', '{}')
    .option('--json', 'print the API answer as JSON')
    .action(async (id: string, o: { input: string; json?: boolean }) => {
      let input: unknown;
      try {
        input = JSON.parse(o.input);
      } catch (err) {
        throw new CliError(`--input is not valid JSON: ${(err as Error).message}`, EXIT.failed);
      }
      if (typeof input !== 'object' || input === null || Array.isArray(input)) throw new CliError('--input must be a JSON object, e.g. \'{"approved": true}\'', EXIT.failed);
      let run: FlowRun;
      try {
        run = await callJson<FlowRun>('POST', `/api/flow-runs/${seg(id)}/resume`, { input });
      } catch (err) {
        // A 404 from the router (not about the run) means this API has no resume route.
        if (err instanceof ApiAnswerError && err.httpStatus === 404 && /no route/.test(err.message)) {
          throw new CliError('this Reflex API cannot resume runs: POST /api/flow-runs/:id/resume answered 404 (no such route). Upgrade the API, or resume the run from the flow that paused it.', EXIT.notFound);
        }
        throw err;
      }
      if (o.json) return printJson(run);
      process.stdout.write(`resumed ${run.id}: ${run.state.type}/${run.state.name}\n`);
    });
}

function printChange(run: FlowRun, json?: boolean): void {
  if (json) return printJson(run);
  process.stdout.write(`${run.id}  ${run.state.type} (${run.state.name})\n`);
}

/** pino's level numbers, as the run log stores them. */
function levelName(level: number): string {
  return level >= 60 ? 'FATAL' : level >= 50 ? 'ERROR' : level >= 40 ? 'WARN' : level >= 30 ? 'INFO' : level >= 20 ? 'DEBUG' : 'TRACE';
}
