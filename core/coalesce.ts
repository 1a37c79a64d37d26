import DataLoader from 'dataloader';

export interface CoalesceOptions {
  /** How long the first read waits for others to join its batch (default 0: the reads of the same turn). */
  lingerMs?: number;
  maxBatch?: number;
}

/**
 * Coalesces point reads made at about the same time into one batched read (one `= ANY($1)` query, one
 * MGET): a busy worker starting a hundred runs pays one round trip, not a hundred. Nothing is cached; every
 * call sees a read made after it was called. The batch function answers a map; missing keys read as null.
 */
export function coalesced<K, V>(load: (keys: readonly K[]) => Promise<Map<K, V>>, options: CoalesceOptions = {}): (key: K) => Promise<V | null> {
  const lingerMs = options.lingerMs ?? 0;
  const loader = new DataLoader<K, V | null>(
    async (keys) => {
      const found = await load(keys);
      return keys.map((k) => found.get(k) ?? null);
    },
    { cache: false, maxBatchSize: options.maxBatch ?? 500, batchScheduleFn: (run) => void (lingerMs > 0 ? setTimeout(run, lingerMs) : setImmediate(run)) },
  );
  return (key) => loader.load(key);
}
