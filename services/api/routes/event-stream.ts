import type { Subscription } from '@nats-io/nats-core';
import { z } from 'zod';
import { ValidationError } from '../../../core/errors.ts';
import { eventMatcher } from '../../../core/event-filter.ts';
import { EventFilterFieldsSchema } from '../../../schemas/event-filter.ts';
import { openStreams } from '../open-streams.ts';
import type { RouteModule } from '../route-module.ts';
import { documentOnly } from '../schema-compilers.ts';

const HEARTBEAT_MS = 15_000;
/** A client this far behind is cut off rather than buffered without bound; it reconnects and resumes live. */
const MAX_BUFFERED_BYTES = 4 * 1024 * 1024;

/** Documents the query string; the route reads it with `queryToFilter` (labels come as `label.<name>`). */
const StreamQueryDoc = documentOnly(z.object({
  event: z.string().optional().describe('Event name or `prefix.*`; repeat the parameter or separate with commas for several.'),
  resource_id: z.string().optional().describe('Resource id, exact or with a `*` suffix; repeat for several.'),
  related_id: z.string().optional().describe('Id of a related resource; repeat for several.'),
  'label.<name>': z.string().optional().describe('A resource label that must match, e.g. `label.region=eu`; repeat for several values.'),
}));

type Query = Record<string, string | string[] | undefined>;

function list(v: string | string[] | undefined): string[] | undefined {
  if (v === undefined) return undefined;
  return Array.isArray(v) ? v : [v];
}

/** Turns the query string into the same filter fields the query API takes in its body. */
export function queryToFilter(query: Query): unknown {
  const labels: Record<string, string[]> = {};
  const unknown: string[] = [];
  for (const [key, value] of Object.entries(query)) {
    if (key.startsWith('label.') && key.length > 6) labels[key.slice(6)] = list(value) ?? [];
    else if (!['event', 'resource_id', 'related_id'].includes(key)) unknown.push(key);
  }
  return {
    event: list(query.event)?.flatMap((e) => e.split(',')).filter(Boolean),
    resource_id: list(query.resource_id),
    related_id: list(query.related_id),
    labels: Object.keys(labels).length ? labels : undefined,
    ...(unknown.length ? { [unknown[0]]: query[unknown[0]] } : {}),
  };
}

/**
 * `GET /api/events/stream`: Server-Sent Events of live events matching a filter. Each client gets its
 * own NATS core subscription on the narrowest subjects for its event patterns (no durable state), and the
 * rest of the filter runs in process. Live only: nothing is replayed; use /api/events/filter for history.
 */
export const eventStreamRoutes: RouteModule = (app, { rt }) => {
  const open = openStreams(app);

  const schema = {
    operationId: 'streamEvents',
    tags: ['events'],
    summary: 'Live events matching a filter, as Server-Sent Events (`data:` is the event JSON; `: ping` every 15 s)',
    querystring: StreamQueryDoc,
    produces: ['text/event-stream'],
  };
  app.get('/api/events/stream', { schema }, async (req, reply) => {
    const parsed = EventFilterFieldsSchema.strict().safeParse(queryToFilter(req.query as Query));
    if (!parsed.success) throw ValidationError.fromIssues('stream filter', parsed.error.issues);
    const filter = parsed.data;
    const matches = eventMatcher(filter);
    const patterns = filter.event && !filter.event.includes('*') ? filter.event : ['*'];
    const subjectTests = patterns.map((p) => eventMatcher({ event: [p] }));

    const res = reply.raw;
    const subs: Subscription[] = [];
    let heartbeat: NodeJS.Timeout | undefined;
    let closed = false;
    /** `end` lets the client read what was sent; `drop` frees the socket and its buffer at once. */
    const close = (how: 'end' | 'drop' = 'end') => {
      if (closed) return;
      closed = true;
      open.delete(res);
      clearInterval(heartbeat);
      for (const s of subs) s.unsubscribe();
      if (how === 'drop') res.destroy();
      else res.end();
    };
    // Frames that arrive before the headers are written wait here.
    let backlog: string[] | undefined = [];
    const send = (frame: string) => {
      if (backlog) return void backlog.push(frame);
      res.write(frame);
      // A client that stopped reading: ending the response would queue behind what it never reads, and
      // the socket and its buffer would stay for as long as the client keeps the connection.
      if (res.writableLength > MAX_BUFFERED_BYTES) close('drop');
    };
    // `*` is two subscriptions (users' and engine's subject trees, disjoint): an event arrives on one.
    patterns.forEach((pattern, index) => {
      for (const subject of rt.names.eventFilterSubjects(pattern)) subs.push(
        rt.nats.subscribe(subject, {
          callback: (err, msg) => {
            if (err) return close('drop');
            let event;
            try {
              event = rt.bus.decode(msg.data);
            } catch {
              return;
            }
            // Overlapping patterns (order.* and order.created) each get the event: only the first sends it.
            for (let j = 0; j < index; j++) if (subjectTests[j](event)) return;
            if (!matches(event)) return;
            send(`id: ${event.id}\ndata: ${JSON.stringify(event)}\n\n`);
          },
        }),
      );
    });
    // Once the server has the subscriptions, nothing published after the client sees ": connected" is
    // missed. NATS not answering is a 503 from the error handler, like any outage.
    try {
      await rt.nats.flush();
    } catch (err) {
      closed = true;
      for (const s of subs) s.unsubscribe();
      throw err;
    }
    reply.hijack();
    req.raw.on('close', () => close());
    res.on('error', () => close('drop'));
    if (closed || req.raw.destroyed) return close('drop');
    res.writeHead(200, {
      'content-type': 'text/event-stream; charset=utf-8',
      'cache-control': 'no-cache, no-transform',
      connection: 'keep-alive',
      'x-accel-buffering': 'no',
    });
    res.write(': connected\n\n');
    open.add(res);
    const waiting = backlog;
    backlog = undefined;
    for (const frame of waiting) send(frame);
    heartbeat = setInterval(() => send(': ping\n\n'), HEARTBEAT_MS);
  });
};
