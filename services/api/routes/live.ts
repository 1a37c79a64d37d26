import { z } from 'zod';
import { LiveHub } from '../live-hub.ts';
import { LIVE_KINDS, LiveKind, wanted } from '../live-topics.ts';
import { openStreams } from '../open-streams.ts';
import type { RouteModule } from '../route-module.ts';
import { csv } from '../time-range.ts';

/** Changes within this window reach the client as one message: a burst of 500 run updates is one refetch. */
const COALESCE_MS = 250;
const HEARTBEAT_MS = 15_000;
/** Past this many distinct topics in one window, per-id topics collapse into their kind. */
const MAX_TOPICS = 100;
/** A client this far behind is cut off rather than buffered without bound; it reconnects and refetches. */
const MAX_BUFFERED_BYTES = 1024 * 1024;

const LiveQuerySchema = z
  .object({
    kinds: csv(z.enum(LIVE_KINDS), LIVE_KINDS.length)
      .optional()
      .describe(`Comma-separated kinds of topic to receive (default all): ${LIVE_KINDS.join(', ')}. A kind with an id, e.g. \`flow-run:<id>\`, is sent for the thing that changed.`),
  })
  .strict();

/** Collapses `flow-run:<id>` into `flow-run` and keeps kinds, when a window touched too many things. */
export function coalesceTopics(topics: Set<string>): string[] {
  if (topics.size <= MAX_TOPICS) return [...topics].sort();
  return [...new Set([...topics].map((t) => t.split(':')[0]))].sort();
}

/**
 * `GET /api/live`: the dashboard's one live connection, Server-Sent Events bridged from NATS. Each message
 * (`event: change`) lists the topics that changed in the last 250 ms; the page refetches what it shows.
 * Authenticated like every API route (the session cookie works, since EventSource cannot send headers).
 */
export const liveRoutes: RouteModule = (app, { rt }) => {
  const hub = new LiveHub({ nats: rt.nats, names: rt.names, bus: rt.bus });
  const open = openStreams(app);

  const schema = {
    operationId: 'streamLiveChanges',
    tags: ['live'],
    summary: 'Server-Sent Events naming what changed (`event: change`, `data: {"topics": ["flow-runs", "flow-run:<id>"]}`), coalesced over 250 ms',
    querystring: LiveQuerySchema,
    produces: ['text/event-stream'],
  };
  app.get('/api/live', { schema }, async (req, reply) => {
    const kinds = new Set<string>(req.query.kinds?.length ? req.query.kinds : LIVE_KINDS);
    const res = reply.raw;
    const pending = new Set<string>();
    let flushTimer: NodeJS.Timeout | undefined;
    let heartbeat: NodeJS.Timeout | undefined;
    let closed = false;
    /** `end` lets the client read what was sent; `drop` frees the socket and its buffer at once. */
    const close = (how: 'end' | 'drop' = 'end') => {
      if (closed) return;
      closed = true;
      open.delete(res);
      clearTimeout(flushTimer);
      clearInterval(heartbeat);
      stop();
      if (how === 'drop') res.destroy();
      else res.end();
    };
    const write = (frame: string) => {
      res.write(frame);
      // A client that stopped reading: ending the response would queue behind what it never reads.
      if (res.writableLength > MAX_BUFFERED_BYTES) close('drop');
    };
    const flush = () => {
      flushTimer = undefined;
      if (closed || pending.size === 0) return;
      const topics = coalesceTopics(pending);
      pending.clear();
      write(`event: change\ndata: ${JSON.stringify({ topics })}\n\n`);
    };
    // Subscribed before the answer starts: NATS not answering is a 503 from the error handler, like any
    // outage (the dashboard polls meanwhile), and nothing published after ": connected" is missed.
    const stop = await hub.listen(
      (topics) => {
        if (closed) return;
        for (const t of topics) if (wanted(kinds, t)) pending.add(t);
        if (pending.size > 0 && !flushTimer) flushTimer = setTimeout(flush, COALESCE_MS);
      },
      { events: kinds.has(LiveKind.events) },
    );
    reply.hijack();
    req.raw.on('close', () => close());
    res.on('error', () => close('drop'));
    if (req.raw.destroyed) return close('drop');
    res.writeHead(200, {
      'content-type': 'text/event-stream; charset=utf-8',
      'cache-control': 'no-cache, no-transform',
      connection: 'keep-alive',
      'x-accel-buffering': 'no',
    });
    // A client that reconnects refetches on open, which covers what changed while it was away.
    write('retry: 2000\n: connected\n\n');
    open.add(res);
    heartbeat = setInterval(() => write(': ping\n\n'), HEARTBEAT_MS);
  });
};
