import http from 'node:http';
import https from 'node:https';
import type { AddressGuard } from './address-guard.ts';
import { BlockedDestinationError, literalAddress } from './address-guard.ts';

/** The part of a response body kept in the attempt log. */
export const KEPT_BODY_BYTES = 4096;
/** Reading stops here; the rest of a large response is discarded unread. */
const READ_CAP_BYTES = 64 * 1024;

export interface HttpRequest {
  url: string;
  /** The URL holds filled-in secret values: not cached. */
  secretUrl?: boolean;
  method: string;
  headers: Record<string, string>;
  body: string;
  timeoutMs: number;
}

// Connections are reused per destination: a new TCP (and TLS) handshake per delivery would dominate.
// A reused socket stays connected to the address the guard checked when it was opened.
const agents = {
  'http:': new http.Agent({ keepAlive: true, maxSockets: 256 }),
  'https:': new https.Agent({ keepAlive: true, maxSockets: 256 }),
};

/** What a request needs from its URL, parsed once per URL rather than once per attempt. */
export interface Target {
  url: URL;
  /** `host[:port]`, the per-host limit's key. */
  host: string;
  /** The IP literal of the host, or null for a DNS name (checked in the lookup instead). */
  literal: string | null;
  options: http.RequestOptions;
}

const MAX_TARGETS = 1024;
// Most deliveries go to a few receivers; the cache is dropped whole when full (cheaper than an LRU, and
// a URL is only parsed again). URLs with secrets filled in are never cached (see `target`).
const targets = new Map<string, Target>();

/**
 * The parsed target of a URL; throws when it is not an http(s) URL. `cache: false` for a URL holding
 * secret values, which must not outlive the attempt in memory.
 */
export function target(href: string, cache = true): Target {
  const known = targets.get(href);
  if (known) return known;
  const url = new URL(href);
  if (url.protocol !== 'http:' && url.protocol !== 'https:') throw new Error(`unsupported scheme ${url.protocol}`);
  const t: Target = {
    url,
    host: url.host,
    literal: literalAddress(url),
    // What http.request derives from a URL (urlToHttpOptions), once.
    options: {
      protocol: url.protocol,
      hostname: url.hostname.startsWith('[') ? url.hostname.slice(1, -1) : url.hostname,
      port: url.port === '' ? undefined : Number(url.port),
      path: `${url.pathname}${url.search}`,
      auth: url.username || url.password ? `${decodeURIComponent(url.username)}:${decodeURIComponent(url.password)}` : undefined,
      agent: agents[url.protocol],
    },
  };
  if (cache) {
    if (targets.size >= MAX_TARGETS) targets.clear();
    targets.set(href, t);
  }
  return t;
}

export type HttpOutcome =
  | { kind: 'response'; status: number; headers: Record<string, string>; body: string; latencyMs: number }
  /** `permanent`: retrying cannot help (a refused destination, a header Node will not send). */
  | { kind: 'error'; error: string; latencyMs: number; permanent?: boolean };

/**
 * Sends one request without following redirects. The destination is checked on the address actually
 * connected to: literal IPs before connecting, DNS names in the resolver callback.
 */
export function send(request: HttpRequest, guard: AddressGuard): Promise<HttpOutcome> {
  const started = performance.now();
  const elapsed = () => Math.round((performance.now() - started) * 100) / 100;
  return new Promise((resolve) => {
    const fail = (err: Error, permanent: boolean) => resolve({ kind: 'error', error: err.message, latencyMs: elapsed(), permanent });
    let req: http.ClientRequest;
    try {
      const t = target(request.url, !request.secretUrl);
      if (t.literal) guard.checkAddress(t.literal, t.url.hostname);
      const transport = t.url.protocol === 'https:' ? https : http;
      // Throws before sending when Node refuses the method or a header (a CR or LF in a value).
      req = transport.request({
        ...t.options,
        method: request.method,
        headers: { ...request.headers, 'content-length': String(Buffer.byteLength(request.body)) },
        lookup: guard.guardedLookup(t.url.hostname),
        timeout: request.timeoutMs,
      });
    } catch (err) {
      fail(err as Error, true);
      return;
    }
    // The socket timeout only covers inactivity; this bounds the whole exchange.
    const deadline = setTimeout(() => req.destroy(new Error(`timed out after ${request.timeoutMs} ms`)), request.timeoutMs);
    req.on('timeout', () => req.destroy(new Error(`timed out after ${request.timeoutMs} ms`)));
    req.on('error', (err) => {
      clearTimeout(deadline);
      fail(err, err instanceof BlockedDestinationError);
    });
    req.on('response', (res) => {
      const chunks: Buffer[] = [];
      let size = 0;
      res.on('data', (chunk: Buffer) => {
        if (size < READ_CAP_BYTES) chunks.push(chunk);
        size += chunk.length;
        if (size >= READ_CAP_BYTES) res.destroy();
      });
      const finish = () => {
        clearTimeout(deadline);
        const headers: Record<string, string> = {};
        for (const [k, v] of Object.entries(res.headers)) if (v !== undefined) headers[k] = Array.isArray(v) ? v.join(', ') : v;
        const body = Buffer.concat(chunks).subarray(0, KEPT_BODY_BYTES).toString('utf8');
        resolve({ kind: 'response', status: res.statusCode ?? 0, headers, body, latencyMs: elapsed() });
      };
      res.on('end', finish);
      res.on('close', finish);
      res.on('error', finish);
    });
    req.end(request.body);
  });
}
