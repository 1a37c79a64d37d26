/**
 * Child process of bench/webhooks.ts: a loopback receiver that counts requests and, for bodies carrying
 * `sent` (epoch ms), records the latency from the triggering event's ingest to arrival.
 */
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';

let count = 0;
const latencies: number[] = [];
const server = createServer({ keepAliveTimeout: 30_000 }, (req, res) => {
  const chunks: Buffer[] = [];
  req.on('data', (c: Buffer) => chunks.push(c));
  req.on('end', () => {
    const now = Date.now();
    count += 1;
    try {
      const body = JSON.parse(Buffer.concat(chunks).toString('utf8')) as { sent?: number };
      if (typeof body.sent === 'number') latencies.push(now - body.sent);
    } catch {
      /* not ours */
    }
    res.writeHead(204).end();
  });
});
server.listen(0, '127.0.0.1', () => process.send?.({ port: (server.address() as AddressInfo).port }));
process.on('message', (m: { cmd: string }) => {
  if (m.cmd === 'report') process.send?.({ count, latencies });
  if (m.cmd === 'reset') {
    count = 0;
    latencies.length = 0;
  }
  if (m.cmd === 'stop') server.close(() => process.exit(0));
});
