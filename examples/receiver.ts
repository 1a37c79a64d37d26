/**
 * A webhook receiver for trying Reflex locally: prints every request it gets and, when
 * WEBHOOK_SECRET is set (whsec_...), verifies its Standard Webhooks signature.
 *
 *   npx tsx examples/receiver.ts            # listens on 127.0.0.1:9999
 *   PORT=8080 WEBHOOK_SECRET=whsec_... npx tsx examples/receiver.ts
 */
import { createServer } from 'node:http';
import { Webhook } from 'standardwebhooks';

const port = Number(process.env.PORT ?? 9999);
const secret = process.env.WEBHOOK_SECRET;
const verifier = secret ? new Webhook(secret) : undefined;

const server = createServer((req, res) => {
  const chunks: Buffer[] = [];
  req.on('data', (c: Buffer) => chunks.push(c));
  req.on('end', () => {
    const body = Buffer.concat(chunks).toString('utf8');
    let verdict = 'unsigned';
    if (verifier && req.headers['webhook-signature']) {
      try {
        verifier.verify(body, req.headers as Record<string, string>);
        verdict = 'signature OK';
      } catch {
        verdict = 'signature INVALID';
      }
    }
    const stamp = new Date().toISOString();
    process.stdout.write(`\n[${stamp}] ${req.method} ${req.url} (${verdict})\n`);
    for (const h of ['content-type', 'webhook-id', 'webhook-timestamp', 'webhook-signature']) {
      if (req.headers[h]) process.stdout.write(`  ${h}: ${req.headers[h]}\n`);
    }
    let pretty = body;
    try {
      pretty = JSON.stringify(JSON.parse(body), null, 2);
    } catch {
      /* not JSON: print as is */
    }
    process.stdout.write(`${pretty}\n`);
    res.writeHead(204).end();
  });
});

server.listen(port, '127.0.0.1', () => process.stdout.write(`receiver listening on http://127.0.0.1:${port}/ (Ctrl-C to stop)\n`));
for (const signal of ['SIGINT', 'SIGTERM'] as const) process.on(signal, () => server.close(() => process.exit(0)));
