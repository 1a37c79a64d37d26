import DataLoader from 'dataloader';

/**
 * Coalesces point reads made in the same turn of the event loop into one batched read (one `= ANY($1)`
 * query, one MGET): a busy worker starting a hundred runs pays one round trip, not a hundred. Nothing is cached; every
 * call sees a read made after it was called. The batch function answers a map; missing keys read as null.
 */
export function coalesced<K, V>(load: (keys: readonly K[]) => Promise<Map<K, V>>): (key: K) => Promise<V | null> {
  const loader = new DataLoader<K, V | null>(
    async (keys) => {
      const found = await load(keys);
      return keys.map((k) => found.get(k) ?? null);
    },
    { cache: false, maxBatchSize: 500, batchScheduleFn: (run) => void setImmediate(run) },
  );
  return (key) => loader.load(key);
}
