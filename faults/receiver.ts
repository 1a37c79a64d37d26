import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Webhook } from 'standardwebhooks';

/** One request the receiver answered 2xx: a delivery, with the Standard Webhooks id it carried. */
export interface Delivery {
  webhookId: string;
  eventId: string;
  at: number;
  signatureValid: boolean;
}

/**
 * The webhook receiver of the fault suite, on loopback: records every delivery with its `webhook-id` and
 * whether its signature verifies, and can be told to answer 500 until a given time (a receiver outage).
 * Requests answered 500 are counted, not recorded as deliveries: the engine must send them again.
 */
export class FaultReceiver {
  readonly deliveries: Delivery[] = [];
  refused = 0;
  malformed = 0;
  private failUntil = 0;
  private server: Server | undefined;
  private readonly verifier: Webhook;
  url = '';

  constructor(secret: string) {
    this.verifier = new Webhook(secret);
  }

  async start(): Promise<this> {
    this.server = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        if (Date.now() < this.failUntil) {
          this.refused += 1;
          res.writeHead(500).end('failing on purpose');
          return;
        }
        const body = Buffer.concat(chunks).toString('utf8');
        const webhookId = String(req.headers['webhook-id'] ?? '');
        let eventId = '';
        try {
          eventId = String((JSON.parse(body) as { event_id?: unknown }).event_id ?? '');
        } catch {
          // Counted below: a body the suite's action did not render.
        }
        if (!eventId || !webhookId) this.malformed += 1;
        let signatureValid = true;
        try {
          this.verifier.verify(body, req.headers as Record<string, string>);
        } catch {
          signatureValid = false;
        }
        this.deliveries.push({ webhookId, eventId, at: Date.now(), signatureValid });
        res.writeHead(204).end();
      });
    });
    // Deliveries arrive in bursts after an outage; the default backlog of 511 is enough, but keep-alive
    // connections from the webhook service must outlive its idle periods.
    this.server.keepAliveTimeout = 65_000;
    await new Promise<void>((resolve) => this.server!.listen(0, '127.0.0.1', resolve));
    this.url = `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
    return this;
  }

  /** Answers 500 to every request until `until` (epoch ms). */
  failUntilTime(until: number): void {
    this.failUntil = until;
  }

  async stop(): Promise<void> {
    if (!this.server) return;
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server!.close(() => resolve()));
    this.server = undefined;
  }
}
