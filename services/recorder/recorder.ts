import type { JsMsg } from '@nats-io/jetstream';
import { BatchConsumer } from '../../core/batch-consumer.ts';
import type { Runtime, Service } from '../../core/runtime.ts';
import { insertEventDocuments } from './store.ts';

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
      // Only bad data is isolated and dropped; an outage is thrown so the batch is redelivered later.
      if (!isDataError(err)) throw err;
      if (batch.length === 1) {
        // A message that no insert can store (not an event) would otherwise come back forever.
        this.log.error({ err, subject: batch[0].subject, seq: batch[0].seq }, 'not a storable event; dropped');
        batch[0].term('not a storable event');
        return;
      }
      // Find the bad message(s) one by one so the good ones are stored.
      for (const m of batch) await this.record([m]);
    }
  }
}

/** SQLSTATE classes 22 (data exception) and 23 (integrity violation): the message, not Postgres, is at fault. */
function isDataError(err: unknown): boolean {
  const code = (err as { code?: unknown }).code;
  return typeof code === 'string' && (code.startsWith('22') || code.startsWith('23'));
}
