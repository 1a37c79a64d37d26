import { Agent, request } from 'node:http';
import { uuidv7 } from 'uuidv7';
import { Ledger, type AttemptOutcome, type LedgerEntry } from './ledger.ts';
import { EVENT_NAME, eventPayload } from './workload.ts';

export interface LoadOptions {
  /** Events per second. */
  rate: number;
  /** Requests in flight at once; events beyond wait their turn (a backlog during an outage). */
  maxInFlight?: number;
  /** A request without an answer this long is abandoned and sent again (ambiguous: it may have been stored). */
  requestTimeoutMs?: number;
}

/**
 * A steady stream of single-event `POST /api/events` requests. Each event's id is chosen here, so a
 * request that fails ambiguously (timeout, connection reset, 5xx) is sent again with the same id and
 * body: ingest is idempotent on the id. Retries back off from 100 ms to 1 s (a `Retry-After` is honoured
 * up to 1 s) and go on until the event is acknowledged or `settle()` gives up.
 */
export class LoadGenerator {
  readonly ledger = new Ledger();
  private readonly ready: LedgerEntry[] = [];
  private readonly agent: Agent;
  private readonly api: URL;
  private readonly maxInFlight: number;
  private readonly timeoutMs: number;
  private inFlight = 0;
  private waitingRetry = 0;
  private ticker: NodeJS.Timeout | undefined;
  private startedAt = 0;
  private closed = false;

  constructor(
    apiUrl: string,
    private readonly options: LoadOptions,
  ) {
    this.api = new URL('/api/events', apiUrl);
    this.maxInFlight = options.maxInFlight ?? 64;
    this.timeoutMs = options.requestTimeoutMs ?? 10_000;
    this.agent = new Agent({ keepAlive: true, maxSockets: this.maxInFlight });
  }

  start(): void {
    this.startedAt = Date.now();
    this.ticker = setInterval(() => this.generate(), 10);
  }

  /** Stops creating events; those not yet acknowledged keep being retried. */
  stopGenerating(): void {
    clearInterval(this.ticker);
    this.ticker = undefined;
  }

  /** Resolves once every event is acknowledged (or refused), or at the deadline; true when none is left. */
  async settle(deadline: number): Promise<boolean> {
    while (this.pending() > 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
    return this.pending() === 0;
  }

  /** Abandons retries and closes the connections. */
  close(): void {
    this.stopGenerating();
    this.closed = true;
    this.agent.destroy();
  }

  private pending(): number {
    return this.ready.length + this.inFlight + this.waitingRetry;
  }

  private generate(): void {
    const due = Math.floor(((Date.now() - this.startedAt) / 1000) * this.options.rate);
    while (this.ledger.entries.length < due) {
      const n = this.ledger.entries.length;
      const entry: LedgerEntry = { id: uuidv7(), n, occurred: new Date().toISOString(), firstSentAt: 0, ackedAt: null, attempts: 0, rejected: null };
      this.ledger.add(entry);
      this.ready.push(entry);
    }
    this.pump();
  }

  private pump(): void {
    while (!this.closed && this.inFlight < this.maxInFlight && this.ready.length > 0) this.send(this.ready.shift()!);
  }

  private send(entry: LedgerEntry): void {
    this.inFlight += 1;
    entry.attempts += 1;
    const sentAt = Date.now();
    if (entry.firstSentAt === 0) entry.firstSentAt = sentAt;
    const body = JSON.stringify({ id: entry.id, event: EVENT_NAME, occurred: entry.occurred, resource: { 'reflex.resource.id': 'fault.load' }, payload: eventPayload(entry.n) });
    let settled = false;
    const finish = (outcome: AttemptOutcome, retryAfterMs: number | null, detail?: string) => {
      if (settled) return;
      settled = true;
      this.inFlight -= 1;
      this.ledger.recordAttempt(outcome, Date.now() - sentAt, detail);
      if (outcome === 'accepted') entry.ackedAt ??= Date.now();
      else if (outcome !== 'rejected') this.retry(entry, retryAfterMs);
      this.pump();
    };
    const req = request(this.api, { method: 'POST', agent: this.agent, headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) } }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('error', () => finish('connection', null));
      res.on('end', () => {
        const status = res.statusCode ?? 0;
        const text = Buffer.concat(chunks).toString('utf8');
        if (status === 202) return finish('accepted', null);
        const code = errorCode(text);
        if (status === 503) return finish('unavailable', retryAfter(res.headers['retry-after']), `503 ${code}`);
        if (status >= 500 || status === 408 || status === 429) return finish('server_error', retryAfter(res.headers['retry-after']), `${status} ${code}`);
        entry.rejected = `${status} ${text.slice(0, 300)}`;
        finish('rejected', null, `${status} ${code}`);
      });
    });
    req.setTimeout(this.timeoutMs, () => {
      finish('timeout', null);
      req.destroy();
    });
    req.on('error', () => finish('connection', null));
    req.end(body);
  }

  private retry(entry: LedgerEntry, retryAfterMs: number | null): void {
    if (this.closed) return;
    const backoff = Math.min(1000, 100 * 2 ** Math.min(entry.attempts - 1, 4));
    this.waitingRetry += 1;
    setTimeout(() => {
      this.waitingRetry -= 1;
      this.ready.push(entry);
      this.pump();
    }, Math.min(retryAfterMs ?? backoff, 1000));
  }
}

function errorCode(body: string): string {
  try {
    return String((JSON.parse(body) as { error?: { code?: unknown } }).error?.code ?? 'no-code');
  } catch {
    return 'not-json';
  }
}

function retryAfter(header: string | string[] | undefined): number | null {
  const value = Array.isArray(header) ? header[0] : header;
  if (!value || !/^\d+(\.\d+)?$/.test(value.trim())) return null;
  return Number(value) * 1000;
}
