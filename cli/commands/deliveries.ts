import type { Command } from 'commander';
import type { z } from 'zod';
import type { WebhookDeliverySchema } from '../../schemas/webhook.ts';

type WebhookDelivery = z.output<typeof WebhookDeliverySchema>;
import { callJson, query, seg } from '../http.ts';
import { printJson, printNextCursor, printRecord, printTable } from '../table.ts';

type Page<T> = { items: T[]; next_cursor: string | null };

/** `reflex deliveries ls|show|replay`: outgoing webhook deliveries (/api/webhook-deliveries). */
export function registerDeliveries(program: Command): void {
  const deliveries = program.command('deliveries').description('list, inspect and replay outgoing webhook deliveries');

  deliveries
    .command('ls')
    .description('deliveries, newest first (GET /api/webhook-deliveries)')
    .option('--automation <id>', 'only deliveries of this automation')
    .option('--status <status>', 'only deliveries in this status (pending, delivered, failed, ...)')
    .option('--since <iso>', 'created at or after')
    .option('--until <iso>', 'created before')
    .option('--limit <n>', 'page size (1-500)')
    .option('--cursor <cursor>', 'next page')
    .option('--json', 'print the API answer as JSON')
    .action(async (o: { automation?: string; status?: string; since?: string; until?: string; limit?: string; cursor?: string; json?: boolean }) => {
      const page = await callJson<Page<WebhookDelivery>>(
        'GET',
        `/api/webhook-deliveries${query({ automation_id: o.automation, status: o.status, since: o.since, until: o.until, limit: o.limit, cursor: o.cursor })}`,
      );
      if (o.json) return printJson(page);
      printTable(
        page.items,
        [
          { head: 'ID', value: (d) => d.id },
          { head: 'STATUS', value: (d) => d.status },
          { head: 'ATTEMPTS', value: (d) => d.attempt_count },
          { head: 'LAST', value: (d) => d.last_status_code ?? d.last_error },
          { head: 'URL', value: (d) => d.url },
          { head: 'CREATED', value: (d) => d.created },
        ],
        'no deliveries',
      );
      printNextCursor(page.next_cursor);
    });

  deliveries
    .command('show')
    .description('one delivery with its attempts (GET /api/webhook-deliveries/:id)')
    .argument('<id>')
    .option('--json', 'print the API answer as JSON')
    .action(async (id: string, o: { json?: boolean }) => {
      const d = await callJson<WebhookDelivery>('GET', `/api/webhook-deliveries/${seg(id)}`);
      if (o.json) return printJson(d);
      const { attempts, body, ...rest } = d;
      printRecord({ ...rest, body });
      process.stdout.write('\nattempts\n');
      printTable(
        attempts ?? [],
        [
          { head: 'SERIES', value: (a) => a.series },
          { head: 'ATTEMPT', value: (a) => a.attempt },
          { head: 'STARTED', value: (a) => a.started },
          { head: 'STATUS', value: (a) => a.status_code },
          { head: 'MS', value: (a) => Math.round(a.latency_ms) },
          { head: 'OUTCOME', value: (a) => a.outcome },
          { head: 'ERROR', value: (a) => a.error },
        ],
        'no attempts yet',
      );
    });

  deliveries
    .command('replay')
    .description('send a delivery again as a new series of attempts (POST /api/webhook-deliveries/:id/replay)')
    .argument('<id>')
    .option('--json', 'print the API answer as JSON')
    .action(async (id: string, o: { json?: boolean }) => {
      const r = await callJson<{ id: string; series: number; status: string }>('POST', `/api/webhook-deliveries/${seg(id)}/replay`);
      if (o.json) return printJson(r);
      process.stdout.write(`${r.id}  series ${r.series}  ${r.status}\n`);
    });
}
