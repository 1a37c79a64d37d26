/**
 * Child process of bench/e2e.ts: the load generator. It POSTs one `order.created` event per request with
 * raw node:http on a keep-alive agent, either open loop at a steady rate (each request leaves on its
 * schedule whether or not earlier ones have answered, so a slow server cannot slow the generator down and
 * hide its latency) or closed loop with a fixed number in flight (bench/e2e-scenario.ts: the events).
 */
import http from 'node:http';
import { epochMs, serveRequests } from './e2e-child.ts';
import { eventBody } from './e2e-scenario.ts';

export interface GeneratorPhase {
  url: string;
  /** Open loop at `rate` events/s, or closed loop with `inflight` requests outstanding. */
  mode: 'rate' | 'inflight';
  rate: number;
  inflight: number;
  seconds: number;
  /** Number of the first event; the phase uses first, first + 1, ... */
  first: number;
  /** Epoch ms the first request is due at (the bench reads CPU on the same clock). */
  t0: number;
}

/** What happened to each request, column by column (index i is event first + i). */
export interface SendLog {
  /** When the request was due (open loop) or sent (closed loop): latency runs from here. */
  scheduled: number[];
  /** When http.request() was called: later than `scheduled` only if the generator itself lagged. */
  started: number[];
  answered: number[];
  /** The HTTP status, or 0 when the request failed without one (see `errors`). */
  status: number[];
  errors: Record<string, number>;
}

// Sockets are many (a fleet of clients) but bounded: past this, requests wait in the agent, and that wait
// counts in their latency since it runs from the schedule.
const agent = new http.Agent({ keepAlive: true, maxSockets: Number(process.env.BENCH_E2E_SOCKETS ?? 256) });

// An engine started with REFLEX_API_KEY (the bench passes its environment on) wants it on every request.
const auth: Record<string, string> = process.env.REFLEX_API_KEY ? { authorization: `Bearer ${process.env.REFLEX_API_KEY}` } : {};

function post(url: URL, body: string, log: SendLog, i: number): Promise<void> {
  log.started[i] = epochMs();
  return new Promise((resolve) => {
    const headers = { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body), ...auth };
    const req = http.request(url, { method: 'POST', agent, headers }, (res) => {
      res.resume();
      res.on('end', () => {
        log.answered[i] = epochMs();
        log.status[i] = res.statusCode ?? 0;
        resolve();
      });
    });
    req.on('error', (err: NodeJS.ErrnoException) => {
      log.answered[i] = epochMs();
      log.status[i] = 0;
      const code = err.code ?? err.message;
      log.errors[code] = (log.errors[code] ?? 0) + 1;
      resolve();
    });
    req.end(body);
  });
}

async function openLoop(p: GeneratorPhase, url: URL, log: SendLog): Promise<void> {
  const total = Math.round(p.rate * p.seconds);
  const interval = 1000 / p.rate;
  const inflight: Promise<void>[] = [];
  let i = 0;
  await new Promise<void>((done) => {
    const tick = () => {
      const now = epochMs();
      // Everything due by now leaves now: a late timer sends a burst rather than shifting the schedule.
      for (; i < total && p.t0 + i * interval <= now; i++) {
        log.scheduled[i] = p.t0 + i * interval;
        inflight.push(post(url, eventBody(p.first + i), log, i));
      }
      if (i >= total) return done();
      setTimeout(tick, Math.max(0, p.t0 + i * interval - epochMs() - 0.5));
    };
    tick();
  });
  await Promise.all(inflight);
}

async function closedLoop(p: GeneratorPhase, url: URL, log: SendLog): Promise<void> {
  const end = p.t0 + p.seconds * 1000;
  let i = 0;
  const worker = async () => {
    while (epochMs() < end) {
      const k = i++;
      log.scheduled[k] = epochMs();
      await post(url, eventBody(p.first + k), log, k);
    }
  };
  await Promise.all(Array.from({ length: p.inflight }, worker));
}

async function runPhase(p: GeneratorPhase): Promise<SendLog> {
  const url = new URL('/api/events', p.url);
  const log: SendLog = { scheduled: [], started: [], answered: [], status: [], errors: {} };
  const wait = p.t0 - epochMs();
  if (wait > 0) await new Promise((r) => setTimeout(r, wait));
  await (p.mode === 'rate' ? openLoop(p, url, log) : closedLoop(p, url, log));
  return log;
}

serveRequests((m) => runPhase(m.phase as GeneratorPhase));
process.send?.({ ready: true });
