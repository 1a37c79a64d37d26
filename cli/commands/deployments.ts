import type { Command } from 'commander';
import type { Deployment } from '../../schemas/deployment.ts';
import type { FlowRun } from '../../schemas/flow-run.ts';
import { callJson, query, seg } from '../http.ts';
import { fail } from '../output.ts';
import { printJson, printNextCursor, printRecord, printTable } from '../table.ts';

type Page<T> = { items: T[]; next_cursor: string | null };

/** `reflex deployments ls|show|run|pause|resume` through the API (/api/deployments). */
export function registerDeployments(program: Command): void {
  const deployments = program.command('deployments').description('list, inspect, run, pause and resume deployments');

  deployments
    .command('ls')
    .description('deployments by name (GET /api/deployments)')
    .option('--flow <name>', 'only deployments of this flow')
    .option('--limit <n>', 'page size (1-500)')
    .option('--cursor <cursor>', 'next page')
    .option('--json', 'print the API answer as JSON')
    .action(async (o: { flow?: string; limit?: string; cursor?: string; json?: boolean }) => {
      const page = await callJson<Page<Deployment>>('GET', `/api/deployments${query({ flow: o.flow, limit: o.limit, cursor: o.cursor })}`);
      if (o.json) return printJson(page);
      printTable(
        page.items,
        [
          { head: 'ID', value: (d) => d.id },
          { head: 'NAME', value: (d) => d.name },
          { head: 'FLOW', value: (d) => d.flow },
          { head: 'POOL', value: (d) => d.work_pool },
          { head: 'SCHEDULES', value: (d) => d.schedules.length },
          { head: 'PAUSED', value: (d) => (d.paused ? 'yes' : 'no') },
          { head: 'UPDATED', value: (d) => d.updated },
        ],
        'no deployments',
      );
      printNextCursor(page.next_cursor);
    });

  deployments
    .command('show')
    .description('one deployment, by id, name or <flow>/<name> (GET /api/deployments/:id)')
    .argument('<ref>')
    .option('--json', 'print the API answer as JSON')
    .action(async (ref: string, o: { json?: boolean }) => {
      const d = await callJson<Deployment>('GET', `/api/deployments/${seg(ref)}`);
      if (o.json) return printJson(d);
      printRecord(d as unknown as Record<string, unknown>);
    });

  deployments
    .command('run')
    .description('create a run now (POST /api/deployments/:id/runs)')
    .argument('<ref>', 'id, name or <flow>/<name>')
    .option('--param <key=json...>', 'a parameter override; the value is JSON when it parses, else a string')
    .option('--params <json>', 'all overrides as one JSON object')
    .option('--tag <tag...>', 'tags added to the run')
    .option('--idempotency-key <key>', 'a second call with the same key answers the same run')
    .option('--at <iso>', 'start no earlier than this time')
    .option('--json', 'print the API answer as JSON')
    .action(async (ref: string, o: { param?: string[]; params?: string; tag?: string[]; idempotencyKey?: string; at?: string; json?: boolean }) => {
      let parameters: Record<string, unknown> = {};
      if (o.params) {
        try {
          parameters = JSON.parse(o.params) as Record<string, unknown>;
        } catch (err) {
          fail(`--params is not valid JSON: ${(err as Error).message}`);
        }
        if (!parameters || typeof parameters !== 'object' || Array.isArray(parameters)) fail('--params must be a JSON object');
      }
      for (const p of o.param ?? []) {
        const eq = p.indexOf('=');
        if (eq <= 0) fail(`--param "${p}" must be <key>=<value>`);
        const raw = p.slice(eq + 1);
        let value: unknown = raw;
        try {
          value = JSON.parse(raw);
        } catch {
          /* a plain string */
        }
        parameters[p.slice(0, eq)] = value;
      }
      const body = { parameters, ...(o.tag ? { tags: o.tag } : {}), ...(o.idempotencyKey ? { idempotency_key: o.idempotencyKey } : {}), ...(o.at ? { scheduled_time: o.at } : {}) };
      const run = await callJson<FlowRun>('POST', `/api/deployments/${seg(ref)}/runs`, body);
      if (o.json) return printJson(run);
      process.stdout.write(`${run.id}  ${run.name}  ${run.state.type} (${run.state.name})\n`);
    });

  for (const action of ['pause', 'resume'] as const) {
    deployments
      .command(action)
      .description(`${action === 'pause' ? 'pause' : 'resume'} a deployment's schedules and manual runs (POST /api/deployments/:id/${action})`)
      .argument('<ref>', 'id, name or <flow>/<name>')
      .option('--json', 'print the API answer as JSON')
      .action(async (ref: string, o: { json?: boolean }) => {
        const d = await callJson<Deployment>('POST', `/api/deployments/${seg(ref)}/${action}`);
        if (o.json) return printJson(d);
        process.stdout.write(`${d.name}  ${d.paused ? 'paused' : 'active'}\n`);
      });
  }
}
