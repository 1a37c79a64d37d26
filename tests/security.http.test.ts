import assert from 'node:assert/strict';
import { connect, type Socket } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { buildApp } from '../services/api/app.ts';
import type { ApiApp } from '../services/api/route-module.ts';
import { startTestEngine, waitFor, type TestEngine } from './support/harness.ts';

/**
 * Clients that hold the API's sockets: a body or headers sent a byte at a time (sockets were held for
 * over 330 s), and a live-stream client that stops reading (cut off at 4 MiB, but its socket and buffer
 * were left open for as long as it kept the connection).
 */

/** A raw connection that records what the server sends and whether it closed the connection. */
class RawClient {
  readonly socket: Socket;
  received = '';
  closed = false;
  constructor(port: number) {
    this.socket = connect(port, '127.0.0.1');
    this.socket.setEncoding('latin1');
    this.socket.on('data', (d: string) => (this.received += d));
    this.socket.on('error', () => {});
    this.socket.on('close', () => (this.closed = true));
  }
  /** Writes `text` one byte at a time, every `everyMs`, until the server closes the connection. */
  async trickle(text: string, everyMs: number): Promise<void> {
    for (const ch of text) {
      if (this.closed || this.socket.destroyed) return;
      this.socket.write(ch);
      await new Promise((r) => setTimeout(r, everyMs));
    }
  }
}

describe('clients that hold sockets', () => {
  let t: TestEngine;
  let app: ApiApp;
  let port: number;
  before(async () => {
    t = await startTestEngine({ services: [], config: { requestTimeoutMs: 1000 } });
    app = await buildApp(t.rt, t.modules);
    await app.listen({ host: '127.0.0.1', port: 0 });
    port = (app.server.address() as { port: number }).port;
  });
  after(async () => {
    await app?.close();
    await t?.cleanup();
  });

  it('cuts off a body sent a byte at a time with a 408 once the request timeout passes', async () => {
    const c = new RawClient(port);
    const body = JSON.stringify([{ event: 'slow.body', resource: { 'reflex.resource.id': 'x' } }]).padEnd(400, ' ');
    c.socket.write(`POST /api/events HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: ${body.length}\r\n\r\n`);
    const started = Date.now();
    void c.trickle(body, 20);
    await waitFor(() => c.closed, { timeoutMs: 10_000, what: 'the server to close the slow connection' });
    assert.match(c.received, /^HTTP\/1\.1 408/);
    assert.ok(Date.now() - started < 8 * 400 * 20, 'closed long before the body was complete');
  });

  it('cuts off headers sent a byte at a time', async () => {
    const c = new RawClient(port);
    void c.trickle(`GET /api/health HTTP/1.1\r\nHost: x\r\n${'X-Slow: a\r\n'.repeat(40)}\r\n`, 20);
    await waitFor(() => c.closed, { timeoutMs: 10_000, what: 'the server to close the slow connection' });
    assert.doesNotMatch(c.received, /^HTTP\/1\.1 200/);
  });

  it('still answers a client that sends its request at once', async () => {
    const res = await fetch(`http://127.0.0.1:${port}/api/health`);
    assert.equal(res.status, 200);
  });

  it('drops a live-stream client that stopped reading, socket and all', async () => {
    const serverSockets = new Map<number, Socket>();
    const track = (s: Socket) => serverSockets.set(s.remotePort ?? 0, s);
    app.server.on('connection', track);
    const c = new RawClient(port);
    c.socket.write('GET /api/events/stream?event=slow.reader HTTP/1.1\r\nHost: x\r\n\r\n');
    await waitFor(() => c.received.includes(': connected'), { what: 'the stream to be connected' });
    c.socket.pause();
    const server = serverSockets.get(c.socket.localPort ?? -1);
    app.server.off('connection', track);
    assert.ok(server, 'the server side of the stream connection');

    // 256 KiB events until the server gives the reader up: past its 4 MiB buffer and the kernel's.
    const payload = { blob: 'x'.repeat(256 * 1024 - 100) };
    for (let i = 0; i < 200 && !server.destroyed; i++) {
      const res = await app.inject({ method: 'POST', url: '/api/events', payload: [{ event: 'slow.reader', resource: { 'reflex.resource.id': 'x' }, payload }] });
      assert.equal(res.statusCode, 202, res.body);
    }
    // Only end()ing the response kept the socket, and what it buffered, while the client held it unread.
    await waitFor(() => server.destroyed, { timeoutMs: 10_000, what: 'the server to drop the connection' });
    c.socket.destroy();
  });
});
