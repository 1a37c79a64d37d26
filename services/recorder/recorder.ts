import type { Logger } from '../../core/log.ts';
import type { ConsumedMessage } from '../../infra/batch-consumer.ts';
import type { EventBus } from '../../infra/bus.ts';
import type { Pool } from '../../infra/db.ts';
import { LingeringPullConsumer } from '../../infra/lingering-pull.ts';
import type { Metrics } from '../../infra/metrics.ts';
import { pgErrorKind } from '../../infra/pg-errors.ts';
import { insertDeadLetter, insertEventMessages } from '../../modules/events/index.ts';
import type { Service } from '../service.ts';

export interface RecorderDeps {
  bus: EventBus;
  pg: Pool;
  log: Logger;
  /** The durable consumer's name. */
  durable: string;
  /** Shown at start-up. */
  schema: string;
  metrics?: Metrics;
}

/**
 * Stores every event of the stream in Postgres, in batches, acknowledging each message only after the
 * batch that holds it is committed.
 */
export class Recorder implements Service {
  readonly name = 'recorder';
  private consumer: LingeringPullConsumer | undefined;
  private readonly log: Logger;

  constructor(private readonly deps: RecorderDeps) {
    this.log = deps.log.child({ service: 'recorder' });
  }

  async start(): Promise<void> {
    const durable = await this.deps.bus.consumer(this.deps.durable);
    // Pulled with a 20 ms linger: under a steady stream, one pull, one insert and one ack write per 20 ms
    // of events (each a round trip and socket writes whatever its size), and one wake-up of this process
    // and of the NATS server instead of one per event (60-150 µs of CPU each on a VM). The recorder is on
    // no path a user waits for (automations and flows read the stream), and an event after a quiet spell
    // is still stored at once (the pull waiting for it is answered).
    this.consumer = new LingeringPullConsumer(this.deps.bus.nc, durable, (batch) => this.record(batch), this.log, { maxBatch: 1000, prefetch: 4000, lingerMs: 20 });
    await this.consumer.start();
  }

  async stop(): Promise<void> {
    await this.consumer?.stop();
  }

  describe(): string {
    return `recording events into postgres schema "${this.deps.schema}"`;
  }

  private async record(batch: ConsumedMessage[]): Promise<void> {
    try {
      // The messages' bytes as they are: Postgres extracts the columns (no decoding, no parsing here).
      await insertEventMessages(this.deps.pg, batch.map((m) => m.data));
      for (const m of batch) m.ack();
      this.deps.metrics?.eventsRecorded.inc(batch.length);
    } catch (err) {
      // Only bad data is isolated; an outage is thrown so the batch is redelivered later.
      if (pgErrorKind(err) !== 'data') throw err;
      if (batch.length > 1) {
        // Halves, so a batch of a thousand with one bad message costs about twenty inserts, not a thousand.
        const mid = Math.ceil(batch.length / 2);
        await this.record(batch.slice(0, mid));
        await this.record(batch.slice(mid));
        return;
      }
      // No insert can store this message: keep its bytes as a dead letter and acknowledge it, so it never
      // comes back (a redelivered message would block the consumer once enough of them are pending).
      const [m] = batch;
      const code = (err as { code?: string }).code ?? null;
      const id = await insertDeadLetter(this.deps.pg, {
        consumer: 'recorder',
        subject: m.subject,
        streamSeq: m.seq,
        data: m.data,
        reason: err instanceof Error ? err.message : String(err),
        errorCode: code,
      });
      this.log.error({ dead_letter_id: id, subject: m.subject, seq: m.seq, code }, 'event cannot be stored; kept as a dead letter (GET /api/dead-letters)');
      m.ack();
      this.deps.metrics?.eventsDeadLettered.inc({ consumer: 'recorder' });
    }
  }
}
