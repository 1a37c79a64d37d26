import { readFile } from 'node:fs/promises';
import type { Command } from 'commander';
import type { Automation } from '../../schemas/automation.ts';
import { callJson, query, seg } from '../http.ts';
import { fail } from '../output.ts';
import { printJson, printNextCursor, printRecord, printTable } from '../table.ts';

type Page<T> = { items: T[]; next_cursor: string | null };
interface FiringRecord {
  id: string;
  automation_id: string;
  state: string;
  fired_at: string;
  trigger_path: string;
  triggering_labels: Record<string, string>;
  count: number;
  actions: { type?: string; status?: string; reason?: string }[];
}
interface DryRun {
  firings: { state: string; fired_at: string; trigger_path: string; actions: { index: number; type: string; status: string; reason?: string }[] }[];
  events_evaluated: number;
  truncated: boolean;
}

/**
 * `reflex automations ls|show|firings|enable|disable|test` through the API (/api/automations); the
 * file-based `reflex automation apply|validate` stays beside it.
 */
export function registerAutomations(program: Command): void {
  const automations = program.command('automations').description('list, inspect, enable, disable and dry-run automations');

  automations
    .command('ls')
    .description('automations by name (GET /api/automations)')
    .option('--json', 'print the API answer as JSON')
    .action(async (o: { json?: boolean }) => {
      const page = await callJson<Page<Automation>>('GET', '/api/automations');
      if (o.json) return printJson(page);
      printTable(
        page.items,
        [
          { head: 'ID', value: (a) => a.id },
          { head: 'NAME', value: (a) => a.name },
          { head: 'ENABLED', value: (a) => (a.enabled ? 'yes' : 'no') },
          { head: 'TRIGGER', value: (a) => (a.trigger as { type?: string }).type },
          { head: 'ACTIONS', value: (a) => a.actions.map((x) => (x as { type: string }).type).join(',') },
          { head: 'UPDATED', value: (a) => a.updated },
        ],
        'no automations',
      );
    });

  automations
    .command('show')
    .description('one automation (GET /api/automations/:id); secrets are masked by the API')
    .argument('<id>')
    .option('--json', 'print the API answer as JSON')
    .action(async (id: string, o: { json?: boolean }) => {
      const a = await callJson<Automation>('GET', `/api/automations/${seg(id)}`);
      if (o.json) return printJson(a);
      printRecord(a as unknown as Record<string, unknown>);
    });

  automations
    .command('firings')
    .description("an automation's firings, newest first, with each action's outcome (GET /api/automations/:id/firings)")
    .argument('<id>')
    .option('--limit <n>', 'page size (1-500)')
    .option('--cursor <cursor>', 'next page')
    .option('--json', 'print the API answer as JSON')
    .action(async (id: string, o: { limit?: string; cursor?: string; json?: boolean }) => {
      const page = await callJson<Page<FiringRecord>>('GET', `/api/automations/${seg(id)}/firings${query({ limit: o.limit, cursor: o.cursor })}`);
      if (o.json) return printJson(page);
      printTable(
        page.items,
        [
          { head: 'ID', value: (f) => f.id },
          { head: 'FIRED', value: (f) => f.fired_at },
          { head: 'STATE', value: (f) => f.state },
          { head: 'TRIGGER', value: (f) => f.trigger_path },
          { head: 'COUNT', value: (f) => f.count },
          { head: 'ACTIONS', value: (f) => f.actions.map((a) => `${a.type ?? '?'}:${a.status ?? '?'}`).join(' ') },
        ],
        'no firings',
      );
      printNextCursor(page.next_cursor);
    });

  for (const [action, enabled] of [
    ['enable', true],
    ['disable', false],
  ] as const) {
    automations
      .command(action)
      .description(`${action} an automation (PATCH /api/automations/:id {"enabled": ${enabled}})`)
      .argument('<id>')
      .option('--json', 'print the API answer as JSON')
      .action(async (id: string, o: { json?: boolean }) => {
        const a = await callJson<Automation>('PATCH', `/api/automations/${seg(id)}`, { enabled });
        if (o.json) return printJson(a);
        process.stdout.write(`${a.name}  ${a.enabled ? 'enabled' : 'disabled'}\n`);
      });
  }

  automations
    .command('test')
    .description('dry-run an automation file on events from a file; nothing is stored or sent (POST /api/automations/test)')
    .argument('<automation.json>', 'one automation document')
    .option('--events <events.json>', 'a JSON array of events to evaluate')
    .option('--until <iso>', 'clock at the end of the run (proactive deadlines up to it fire)')
    .option('--json', 'print the API answer as JSON')
    .action(async (file: string, o: { events?: string; until?: string; json?: boolean }) => {
      const automation = await readJson(file);
      const events = o.events ? await readJson(o.events) : [];
      if (!Array.isArray(events)) fail(`${o.events}: must be a JSON array of events`);
      const result = await callJson<DryRun>('POST', '/api/automations/test', { automation, events, ...(o.until ? { until: o.until } : {}) });
      if (o.json) return printJson(result);
      process.stdout.write(`${result.events_evaluated} event(s) evaluated, ${result.firings.length} firing(s)${result.truncated ? ' (truncated)' : ''}\n`);
      printTable(
        result.firings,
        [
          { head: 'FIRED', value: (f) => f.fired_at },
          { head: 'STATE', value: (f) => f.state },
          { head: 'TRIGGER', value: (f) => f.trigger_path },
          { head: 'ACTIONS', value: (f) => f.actions.map((a) => `${a.type}:${a.status}${a.reason ? ` (${a.reason})` : ''}`).join(' ') },
        ],
        'it would not fire',
      );
    });
}

async function readJson(path: string): Promise<unknown> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (err) {
    fail(`cannot read ${path}: ${(err as Error).message}`);
  }
  try {
    return JSON.parse(text);
  } catch (err) {
    fail(`${path} is not valid JSON: ${(err as Error).message}`);
  }
}
