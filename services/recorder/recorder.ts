import type { JsMsg } from '@nats-io/jetstream';
import { BatchConsumer } from '../../infra/batch-consumer.ts';
import type { Runtime, Service } from '../../infra/runtime.ts';
import { insertDeadLetter } from '../../modules/events/dead-letters.ts';
import { insertEventDocuments } from '../../modules/events/event-inserts.ts';

/**
 * Stores every event of the stream in Postgres, in batches, acknowledging each message only after the
 * batch that holds it is committed.
 */
export class Recorder implements Service {
  readonly name = 'recorder';
  private consumer: BatchConsumer | undefined;
  private readonly log;
  private readonly decoder = new TextDecoder();

  constructor(private readonly rt: Runtime) {
    this.log = rt.log.child({ service: 'recorder' });
  }

  async start(): Promise<void> {
    const durable = await this.rt.bus.consumer(this.rt.names.consumers.recorder);
    // A 5 ms linger: at a steady trickle, one insert and one ack flush per few events instead of per event.
    this.consumer = new BatchConsumer(durable, (batch) => this.record(batch), this.log, { maxBatch: 1000, prefetch: 4000, minBatchIntervalMs: 5 });
    await this.consumer.start();
  }

  async stop(): Promise<void> {
    await this.consumer?.stop();
  }

  describe(): string {
    return `recording events into postgres schema "${this.rt.names.pgSchema}"`;
  }

  private async record(batch: JsMsg[]): Promise<void> {
    const docs = batch.map((m) => this.decoder.decode(m.data));
    try {
      await insertEventDocuments(this.rt.pg, docs);
      for (const m of batch) m.ack();
    } catch (err) {
      // Only bad data is isolated; an outage is thrown so the batch is redelivered later.
      if (!isDataError(err)) throw err;
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
      const id = await insertDeadLetter(this.rt.pg, {
        consumer: 'recorder',
        subject: m.subject,
        streamSeq: m.seq,
        data: m.data,
        reason: err instanceof Error ? err.message : String(err),
        errorCode: code,
      });
      this.log.error({ dead_letter_id: id, subject: m.subject, seq: m.seq, code }, 'event cannot be stored; kept as a dead letter (GET /api/dead-letters)');
      m.ack();
    }
  }
}

/** SQLSTATE classes 22 (data exception) and 23 (integrity violation): the message, not Postgres, is at fault. */
function isDataError(err: unknown): boolean {
  const code = (err as { code?: unknown }).code;
  return typeof code === 'string' && (code.startsWith('22') || code.startsWith('23'));
}
