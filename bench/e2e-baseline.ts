/**
 * Child process of bench/e2e.ts: the baseline, a minimal non-durable flow in plain node:http, what a
 * Node-RED flow "http in → switch → http request" does: parse the JSON, answer 202, and when
 * payload.amount > 100 POST the body to the receiver on a keep-alive agent. Nothing is persisted, retried
 * or recorded: the floor that a durable engine's figures are divided by.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { serveRequests } from './e2e-child.ts';

const target = new URL('/orders', process.env.BENCH_RECEIVER_URL);
const agent = new http.Agent({ keepAlive: true, maxSockets: 100 });
let forwardErrors = 0;

function forward(body: Buffer): void {
  const req = http.request(target, { method: 'POST', agent, headers: { 'content-type': 'application/json', 'content-length': body.length } }, (res) => res.resume());
  req.on('error', () => void (forwardErrors += 1));
  req.end(body);
}

const server = http.createServer({ keepAliveTimeout: 65_000 }, (req, res) => {
  const chunks: Buffer[] = [];
  req.on('data', (c: Buffer) => chunks.push(c));
  req.on('end', () => {
    const body = Buffer.concat(chunks);
    let event: { payload?: { amount?: unknown } };
    try {
      event = JSON.parse(body.toString('utf8')) as typeof event;
    } catch {
      res.writeHead(400).end();
      return;
    }
    res.writeHead(202, { 'content-type': 'application/json' }).end('{}');
    if (typeof event.payload?.amount === 'number' && event.payload.amount > 100) forward(body);
  });
});

serveRequests(() => ({ forwardErrors }));
server.listen(0, '127.0.0.1', () => process.send?.({ port: (server.address() as AddressInfo).port }));
