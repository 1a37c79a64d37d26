import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface ReceivedRequest {
  method: string;
  url: string;
  headers: IncomingHttpHeaders;
  body: string;
  at: number;
}

export interface ScriptedResponse {
  status: number;
  headers?: Record<string, string>;
  body?: string;
  /** Wait this long before answering (to provoke timeouts). */
  delayMs?: number;
}

/**
 * A real HTTP receiver on loopback for webhook tests: records every request and answers from a script
 * (one response per request, the last one repeating): statuses, headers such as `retry-after` or
 * `location`, bodies and delays. `start(port)` again after `stop()` simulates a receiver that was down.
 */
export class Receiver {
  readonly requests: ReceivedRequest[] = [];
  private script: ScriptedResponse[] = [{ status: 204 }];
  private server: Server | undefined;
  url = '';

  respond(...script: ScriptedResponse[]): this {
    this.script = script;
    return this;
  }

  async start(port = 0): Promise<this> {
    this.server = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        this.requests.push({ method: req.method ?? '', url: req.url ?? '', headers: req.headers, body: Buffer.concat(chunks).toString('utf8'), at: Date.now() });
        const reply = this.script.length > 1 ? this.script.shift()! : this.script[0];
        const answer = () => {
          if (res.destroyed) return;
          res.writeHead(reply.status, reply.headers).end(reply.body ?? '');
        };
        if (reply.delayMs) setTimeout(answer, reply.delayMs);
        else answer();
      });
    });
    await new Promise<void>((resolve) => this.server!.listen(port, '127.0.0.1', resolve));
    this.url = `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
    return this;
  }

  /** The requests received on one path (query string included in `url`, so pass it exactly). */
  requestsTo(path: string): ReceivedRequest[] {
    return this.requests.filter((r) => r.url === path);
  }

  get port(): number {
    return Number(new URL(this.url).port);
  }

  async stop(): Promise<void> {
    if (!this.server) return;
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server!.close(() => resolve()));
    this.server = undefined;
  }
}
