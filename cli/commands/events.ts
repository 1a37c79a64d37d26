import type { Command } from 'commander';
import { loadConfig } from '../../core/config.ts';
import type { ReflexEvent } from '../../schemas/event.ts';
import { fail } from '../output.ts';
import { sseEvents } from '../sse.ts';

/**
 * `reflex events tail|emit`: talk to a running API over HTTP (REFLEX_API_URL, default
 * http://127.0.0.1:4200, with REFLEX_API_KEY as the bearer token when set).
 */
export function registerEvents(program: Command): void {
  const events = program.command('events').description('emit events and follow the live event stream through the API');

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
      process.stderr.write(`following ${loadConfig().apiUrl}/api/events/stream${query.size ? `?${query}` : ''} (Ctrl-C to stop)\n`);
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
    .action(async (name: string, opts: { resource: string; label?: string[]; related?: string[]; payload: string; id?: string; occurred?: string }) => {
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
      const res = await call('POST', '/api/events', body);
      const answer = (await res.json()) as { ids: string[] };
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

/** Calls the API; a refused connection or an error answer becomes one line naming the URL and the problem. */
export async function call(method: string, path: string, body?: unknown, headers: Record<string, string> = {}): Promise<Response> {
  const config = loadConfig();
  const url = config.apiUrl + path;
  const h: Record<string, string> = { ...headers };
  if (config.apiKey) h.authorization = `Bearer ${config.apiKey}`;
  if (body !== undefined) h['content-type'] = 'application/json';
  let res: Response;
  try {
    res = await fetch(url, { method, headers: h, body: body === undefined ? undefined : JSON.stringify(body) });
  } catch (err) {
    const cause = (err as { cause?: { code?: string; message?: string } }).cause;
    fail(`cannot reach the Reflex API at ${config.apiUrl} (${cause?.code ?? cause?.message ?? (err as Error).message}). Start it with \`reflex start api\`, or set REFLEX_API_URL.`);
  }
  if (!res.ok) {
    const text = await res.text();
    let detail = text;
    try {
      const parsed = JSON.parse(text) as { error?: { message?: string; issues?: { path: string; message: string }[] } };
      detail = [parsed.error?.message ?? text, ...(parsed.error?.issues ?? []).map((i) => `  ${i.path || '(root)'}: ${i.message}`)].join('\n');
    } catch {
      /* not JSON: print as is */
    }
    fail(`${method} ${path.split('?')[0]} answered ${res.status}: ${detail}`);
  }
  return res;
}

function formatEvent(e: ReflexEvent): string {
  const payload = JSON.stringify(e.payload);
  return `${e.occurred}  ${e.event}  ${e.resource['reflex.resource.id']}  ${payload.length > 200 ? `${payload.slice(0, 197)}...` : payload}`;
}
