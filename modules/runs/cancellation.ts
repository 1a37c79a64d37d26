import type { Redis } from 'ioredis';
import type { Logger } from '../../core/log.ts';
import type { Names } from '../../core/names.ts';
import { coalesced } from '../../infra/coalesce.ts';

/**
 * How a running worker learns that its flow run was cancelled, within milliseconds: a Redis flag (so a
 * watcher that starts late still sees it) plus a pub/sub message on one namespace channel (so a watcher
 * learns at once). Operator actions call `request` after moving the run to CANCELLING; the worker calls
 * `watch` when it starts the run, aborts the flow through its AbortSignal when told, then proposes
 * CANCELLED. One instance per process: it holds the subscriber connection (opened on the first watch).
 */

const FLAG_TTL_SECONDS = 24 * 3600;

export class Cancellation {
  private subscriber: Redis | undefined;
  private ready: Promise<unknown> | undefined;
  private readonly handlers = new Map<string, Set<() => void>>();
  /** Reads cancellation flags; the flags of runs starting together are read with one MGET. */
  private readonly flagged: (runId: string) => Promise<string | null>;

  constructor(
    private readonly redis: Redis,
    private readonly names: Names,
    private readonly connection: (name: string) => Redis,
    private readonly log: Logger,
  ) {
    this.flagged = coalesced(async (ids: readonly string[]) => {
      const values = await redis.mget(ids.map((id) => names.keys.cancelFlag(id)));
      return new Map(ids.flatMap((id, i) => (values[i] === null ? [] : [[id, values[i] as string] as const])));
    });
  }

  async request(runId: string): Promise<void> {
    await this.redis.set(this.names.keys.cancelFlag(runId), '1', 'EX', FLAG_TTL_SECONDS);
    await this.redis.publish(this.names.keys.cancelChannel, runId);
  }

  /**
   * Calls `onCancel` (once) when cancellation of the run is requested, including a request made before the
   * watch started. Returns a function that stops watching; call it when the run ends.
   */
  watch(runId: string, onCancel: () => void): () => void {
    const ready = this.subscribe();
    let fired = false;
    const handler = () => {
      if (fired) return;
      fired = true;
      onCancel();
    };
    let set = this.handlers.get(runId);
    if (!set) this.handlers.set(runId, (set = new Set()));
    set.add(handler);
    // The flag covers a request published before the subscription was ready.
    void ready
      .then(() => this.flagged(runId))
      .then((flag) => {
        if (flag !== null && set.has(handler)) handler();
      })
      .catch((err: unknown) => this.log.warn({ err, flow_run_id: runId }, 'could not check cancellation flag'));
    return () => {
      set.delete(handler);
      if (set.size === 0) this.handlers.delete(runId);
    };
  }

  private subscribe(): Promise<unknown> {
    if (!this.ready) {
      const subscriber = (this.subscriber = this.connection('flow-run-cancel-watch'));
      subscriber.on('message', (_channel: string, runId: string) => {
        for (const h of this.handlers.get(runId) ?? []) h();
      });
      this.ready = subscriber.subscribe(this.names.keys.cancelChannel);
    }
    return this.ready;
  }
}
