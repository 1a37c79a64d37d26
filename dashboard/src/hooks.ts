import { useCallback, useEffect, useRef, useState } from 'preact/hooks';
import { onLive } from './live.ts';

export interface Resource<T> {
  data?: T;
  error?: Error;
  loading: boolean;
  reload: () => void;
}

/**
 * Fetches what a page shows, refetches when `key` changes, when a live topic fires (at most one request
 * in flight, and one queued behind it, so a burst of changes is two requests) and every `pollMs` when set.
 */
export function useResource<T>(fetcher: () => Promise<T>, key: string, options: { topics?: string[]; pollMs?: number } = {}): Resource<T> {
  const [state, setState] = useState<{ data?: T; error?: Error; loading: boolean }>({ loading: true });
  const fetcherRef = useRef(fetcher);
  fetcherRef.current = fetcher;
  const flight = useRef<{ running: boolean; again: boolean; key: string }>({ running: false, again: false, key });
  const run = useCallback(() => {
    const f = flight.current;
    if (f.running) {
      f.again = true;
      return;
    }
    f.running = true;
    const forKey = f.key;
    fetcherRef
      .current()
      .then(
        (data) => forKey === flight.current.key && setState({ data, loading: false }),
        (error: Error) => forKey === flight.current.key && setState((s) => ({ data: s.data, error, loading: false })),
      )
      .finally(() => {
        f.running = false;
        if (f.again) {
          f.again = false;
          run();
        }
      });
  }, []);
  useEffect(() => {
    flight.current = { running: false, again: false, key };
    setState((s) => ({ data: s.data, loading: true }));
    run();
  }, [key]);
  const topics = options.topics?.join(',') ?? '';
  useEffect(() => (topics ? onLive(topics.split(','), run) : undefined), [topics]);
  useEffect(() => {
    if (!options.pollMs) return;
    const t = window.setInterval(run, options.pollMs);
    return () => window.clearInterval(t);
  }, [options.pollMs]);
  return { ...state, reload: run };
}
