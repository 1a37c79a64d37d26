import { RequestOne } from '@nats-io/nats-core/internal';

/**
 * nats.js 3.3 answers every request (each JetStream publish is one) through `RequestOne.resolver`, which
 * then calls `cancel()` to unregister it, and `cancel()` builds `new RequestError("cancelled")` to reject
 * the promise it has just resolved: a rejection that is ignored, but an Error (a stack capture) per
 * publish whatever `noAsyncTraces` says. Profiled at 3-5 % of the API, automations and webhooks
 * processes. This makes `cancel()` skip the Error once the request has been answered (the timer is still
 * stopped and the request unregistered, as before); a cancel of a request still waiting (a timeout, a
 * closed connection, a failed publish) goes through the library's own code unchanged.
 *
 * Applied once on import (infra/connections.ts); the versions are pinned in package.json, and
 * tests/nats-request-patch.test.ts fails if an upgrade changes the shape this relies on.
 */
interface PatchedRequest {
  timer?: { cancel(): void };
  mux: { cancel(r: unknown): void };
  resolver(err: Error | null, msg: unknown): void;
  cancel(err?: Error): void;
  /** Set by the patched resolver: the request has its answer (or its error). */
  reflexSettled?: boolean;
}

const PATCHED = Symbol.for('reflex.nats.requestOnePatched');

export function patchNatsRequests(): boolean {
  const proto = RequestOne.prototype as unknown as PatchedRequest & { [PATCHED]?: true };
  if (proto[PATCHED]) return true;
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
  proto[PATCHED] = true;
  return true;
}

patchNatsRequests();
