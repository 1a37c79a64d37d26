import type { Command } from 'commander';
import { apiEndpointFromEnv } from '../../core/api-endpoint.ts';
import type { ReflexEvent } from '../../schemas/event.ts';

type StoredEvent = ReflexEvent & { received: string };
import { call, callJson } from '../http.ts';
import { fail } from '../output.ts';
import { printJson, printNextCursor, printTable } from '../table.ts';
import { sseEvents } from '../sse.ts';

/**
 * `reflex events ls|tail|emit`: talk to a running API over HTTP (REFLEX_API_URL, default
 * http://127.0.0.1:4200, with REFLEX_API_KEY as the bearer token when set).
 */
export function registerEvents(program: Command): void {
  const events = program.command('events').description('emit events and follow the live event stream through the API');

  events
    .command('ls')
    .description('stored events matching a filter, newest first (POST /api/events/filter)')
    .option('--event <pattern...>', 'event names: exact, `prefix.*` or `*`')
    .option('--resource <id...>', 'resource ids, exact or with a `*` suffix')
    .option('--related <id...>', 'ids of related resources')
    .option('--label <label=value...>', 'resource labels that must match')
    .option('--after <iso>', 'occurred at or after this time')
    .option('--before <iso>', 'occurred before this time')
    .option('--limit <n>', 'page size (1-500)')
    .option('--cursor <cursor>', 'next page')
    .option('--json', 'print the API answer as JSON')
    .action(
      async (opts: { event?: string[]; resource?: string[]; related?: string[]; label?: string[]; after?: string; before?: string; limit?: string; cursor?: string; json?: boolean }) => {
        const labels: Record<string, string[]> = {};
        for (const [k, v] of (opts.label ?? []).map(splitPair('--label'))) (labels[k] ??= []).push(v);
        const limit = opts.limit === undefined ? undefined : Number(opts.limit);
        if (limit !== undefined && !Number.isInteger(limit)) fail(`--limit must be a whole number, got "${opts.limit}"`);
        const filter = {
          ...(opts.event ? { event: opts.event } : {}),
          ...(opts.resource ? { resource_id: opts.resource } : {}),
          ...(opts.related ? { related_id: opts.related } : {}),
          ...(opts.label ? { labels } : {}),
          ...(opts.after ? { occurred_after: opts.after } : {}),
          ...(opts.before ? { occurred_before: opts.before } : {}),
          ...(limit !== undefined ? { limit } : {}),
          ...(opts.cursor ? { cursor: opts.cursor } : {}),
        };
        const page = await callJson<{ items: StoredEvent[]; next_cursor: string | null }>('POST', '/api/events/filter', filter);
        if (opts.json) return printJson(page);
        printTable(
          page.items,
          [
            { head: 'OCCURRED', value: (e) => e.occurred },
            { head: 'EVENT', value: (e) => e.event },
            { head: 'RESOURCE', value: (e) => e.resource['reflex.resource.id'] },
            { head: 'ID', value: (e) => e.id },
            { head: 'PAYLOAD', value: (e) => e.payload },
          ],
          'no events',
        );
        printNextCursor(page.next_cursor);
      },
    );

  events
    .command('tail')
    .description('print live events matching a filter until interrupted')
    .option('--event <pattern...>', 'event names: exact, `prefix.*` or `*`')
    .option('--resource <id...>', 'resource ids, exact or with a `*` suffix')
    .option('--related <id...>', 'ids of related resources')
    .option('--label <label=value...>', 'resource labels that must match')
    .option('--json', 'print each event as one JSON line')
    .action(async (opts: { event?: string[]; resource?: string[]; related?: string[]; label?: string[]; json?: boolean }) => {
      const query = new URLSearchParams();
      for (const e of opts.event ?? []) query.append('event', e);
      for (const r of opts.resource ?? []) query.append('resource_id', r);
      for (const r of opts.related ?? []) query.append('related_id', r);
      for (const [k, v] of (opts.label ?? []).map(splitPair('--label'))) query.append(`label.${k}`, v);
      const res = await call('GET', `/api/events/stream?${query}`, undefined, { accept: 'text/event-stream' });
      if (!res.body) fail('the API answered without a stream');
      process.stderr.write(`following ${(apiEndpointFromEnv() as { url: string }).url}/api/events/stream${query.size ? `?${query}` : ''} (Ctrl-C to stop)\n`);
      for await (const event of sseEvents(res.body)) {
        process.stdout.write(opts.json ? `${JSON.stringify(event)}\n` : `${formatEvent(event)}\n`);
      }
      fail('the API closed the stream');
    });

  events
    .command('emit')
    .description('emit one event through the API and print its id')
    .argument('<name>', 'event name, e.g. order.created')
    .requiredOption('--resource <id>', 'reflex.resource.id of the resource the event is about')
    .option('--label <label=value...>', 'more resource labels')
    .option('--related <id:role...>', 'related resources as <id>:<role>')
    .option('--payload <json>', 'payload, a JSON object', '{}')
    .option('--id <uuid>', 'event id (makes re-emitting idempotent)')
    .option('--occurred <iso>', 'when it happened (default now)')
    .option('--json', 'print the API answer as JSON')
    .action(async (name: string, opts: { resource: string; label?: string[]; related?: string[]; payload: string; id?: string; occurred?: string; json?: boolean }) => {
      let payload: unknown;
      try {
        payload = JSON.parse(opts.payload);
      } catch (err) {
        fail(`--payload is not valid JSON: ${(err as Error).message}`);
      }
      const resource: Record<string, string> = { 'reflex.resource.id': opts.resource, ...Object.fromEntries((opts.label ?? []).map(splitPair('--label'))) };
      const related = (opts.related ?? []).map((r) => {
        const at = r.lastIndexOf(':');
        if (at <= 0 || at === r.length - 1) fail(`--related "${r}" must be <id>:<role>`);
        return { 'reflex.resource.id': r.slice(0, at), 'reflex.resource.role': r.slice(at + 1) };
      });
      const body = { event: name, resource, related, payload, ...(opts.id ? { id: opts.id } : {}), ...(opts.occurred ? { occurred: opts.occurred } : {}) };
      const answer = await callJson<{ ids: string[] }>('POST', '/api/events', body);
      if (opts.json) return printJson(answer);
      process.stdout.write(`${answer.ids[0]}\n`);
    });
}

function splitPair(option: string) {
  return (pair: string): [string, string] => {
    const eq = pair.indexOf('=');
    if (eq <= 0) fail(`${option} "${pair}" must be <label>=<value>`);
    return [pair.slice(0, eq), pair.slice(eq + 1)];
  };
}

function formatEvent(e: ReflexEvent): string {
  const payload = JSON.stringify(e.payload);
  return `${e.occurred}  ${e.event}  ${e.resource['reflex.resource.id']}  ${payload.length > 200 ? `${payload.slice(0, 197)}...` : payload}`;
}
