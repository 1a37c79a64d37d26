/**
 * Child process of bench/e2e.ts: the webhook receiver on loopback. It answers 204 to everything and
 * records, per event number, when the first copy arrived (request body fully read) and how many came.
 */
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { epochMs, serveRequests } from './e2e-child.ts';
import { eventNumber } from './e2e-scenario.ts';

export interface Arrivals {
  /** Event numbers in [from, to) that arrived, with their first arrival (epoch ms). */
  n: number[];
  at: number[];
  /** Copies beyond the first, summed over the range. */
  duplicates: number;
}

const first = new Map<number, number>();
const copies = new Map<number, number>();
let unmatched = 0;

const server = createServer({ keepAliveTimeout: 65_000 }, (req, res) => {
  const chunks: Buffer[] = [];
  req.on('data', (c: Buffer) => chunks.push(c));
  req.on('end', () => {
    const at = epochMs();
    let n: number | undefined;
    try {
      n = eventNumber(JSON.parse(Buffer.concat(chunks).toString('utf8')));
    } catch {
      /* not one of ours */
    }
    if (n === undefined) unmatched += 1;
    else if (first.has(n)) copies.set(n, (copies.get(n) ?? 0) + 1);
    else first.set(n, at);
    res.writeHead(204).end();
  });
});

function arrivals(from: number, to: number): Arrivals {
  const out: Arrivals = { n: [], at: [], duplicates: 0 };
  for (let n = from; n < to; n++) {
    const at = first.get(n);
    if (at === undefined) continue;
    out.n.push(n);
    out.at.push(at);
    out.duplicates += copies.get(n) ?? 0;
  }
  return out;
}

function count(from: number, to: number): { count: number; unmatched: number } {
  let c = 0;
  for (let n = from; n < to; n++) if (first.has(n)) c += 1;
  return { count: c, unmatched };
}

serveRequests((m) => (m.cmd === 'arrivals' ? arrivals(m.from as number, m.to as number) : count(m.from as number, m.to as number)));
server.listen(0, '127.0.0.1', () => process.send?.({ port: (server.address() as AddressInfo).port }));
