import { ProtocolHandler, RequestOne } from '@nats-io/nats-core/internal';

/**
 * Two costs nats.js 3.3 pays on every publish, found by profiling the e2e bench (docs/performance.md),
 * removed here. Applied once on import (infra/connections.ts imports this before any connection); the
 * versions are pinned in package.json, and tests/backbone.nats-patches.test.ts fails if an upgrade
 * changes the shape either relies on (each patch checks it and leaves the library alone otherwise).
 */

interface PatchedRequest {
  timer?: { cancel(): void };
  mux: { cancel(r: unknown): void };
  resolver(err: Error | null, msg: unknown): void;
  cancel(err?: Error): void;
  /** Set by the patched resolver: the request has its answer (or its error). */
  reflexSettled?: boolean;
}

const REQUESTS_PATCHED = Symbol.for('reflex.nats.requestOnePatched');

/**
 * Every request (each JetStream publish is one) is answered through `RequestOne.resolver`, which then
 * calls `cancel()` to unregister it, and `cancel()` builds `new RequestError("cancelled")` to reject the
 * promise it has just resolved: a rejection that is ignored, but an Error (a stack capture) per publish
 * whatever `noAsyncTraces` says, 3-5 % of the API, automations and webhooks processes. Patched,
 * `cancel()` skips the Error once the request has its answer (the timer is still stopped and the request
 * unregistered, as before); a cancel of a request still waiting (a timeout, a closed connection, a
 * failed publish) runs the library's own code unchanged.
 */
export function patchNatsRequests(): boolean {
  const proto = RequestOne.prototype as unknown as PatchedRequest & { [REQUESTS_PATCHED]?: true };
  if (proto[REQUESTS_PATCHED]) return true;
  if (typeof proto.resolver !== 'function' || typeof proto.cancel !== 'function') return false;
  const resolver = proto.resolver;
  const cancel = proto.cancel;
  proto.resolver = function (this: PatchedRequest, err: Error | null, msg: unknown): void {
    this.reflexSettled = true;
    resolver.call(this, err, msg);
  };
  proto.cancel = function (this: PatchedRequest, err?: Error): void {
    if (err === undefined && this.reflexSettled) {
      // What the original does, less the rejection of an already settled promise.
      this.timer?.cancel();
      this.mux.cancel(this);
      return;
    }
    cancel.call(this, err);
  };
  proto[REQUESTS_PATCHED] = true;
  return true;
}

interface PatchedProtocol {
  outbound: { length(): number; size(): number; fill(data: Uint8Array, ...payloads: Uint8Array[]): void };
  pendingLimit: number;
  _closed?: boolean;
  flushPending(): void;
  close(err?: Error): Promise<void>;
  sendCommand(cmd: string | Uint8Array, ...payloads: Uint8Array[]): void;
}

const FLUSH_PATCHED = Symbol.for('reflex.nats.flushPatched');
const encoder = new TextEncoder();

/**
 * nats.js buffers what is sent and writes it to the socket from a microtask queued by the first command
 * into an empty buffer: commands sent across `await`s (one publish per HTTP request, an ack per batch, a
 * publish per finished webhook delivery) each get a write of their own. A socket write on loopback costs
 * ~20-40 µs (the kernel delivers to the server inside the call): 7-13 % of every process. Patched, the
 * write waits for `setImmediate`, the end of the current turn of the event loop: everything sent in that
 * turn (every request the turn's I/O callbacks handled) goes in one write, at most one turn later. The
 * threshold that writes at once when the buffer is large (`pendingLimit`) is kept, as is `flush()` (a
 * PING written at once). `close()` writes what is buffered first: a publish (an ack) just before a close
 * is sent, as the microtask sent it before.
 */
export function patchNatsFlush(): boolean {
  const proto = ProtocolHandler.prototype as unknown as PatchedProtocol & { [FLUSH_PATCHED]?: true };
  if (proto[FLUSH_PATCHED]) return true;
  if (typeof proto.sendCommand !== 'function' || typeof proto.flushPending !== 'function' || typeof proto.close !== 'function') return false;
  // The library's own method, so a shape change an upgrade brings shows here, not as lost writes.
  if (!/queueMicrotask\(\(\) => \{\s*this\.flushPending\(\);\s*\}\)/.test(proto.sendCommand.toString())) return false;
  proto.sendCommand = function (this: PatchedProtocol, cmd: string | Uint8Array, ...payloads: Uint8Array[]): void {
    const len = this.outbound.length();
    this.outbound.fill(typeof cmd === 'string' ? encoder.encode(cmd) : cmd, ...payloads);
    if (len === 0) setImmediate(() => this.flushPending());
    else if (this.outbound.size() >= this.pendingLimit) this.flushPending();
  };
  const close = proto.close;
  proto.close = function (this: PatchedProtocol, err?: Error): Promise<void> {
    if (!this._closed) this.flushPending();
    return close.call(this, err);
  };
  proto[FLUSH_PATCHED] = true;
  return true;
}

patchNatsRequests();
patchNatsFlush();
