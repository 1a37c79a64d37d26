import { useEffect, useRef, useState } from 'preact/hooks';
import { get } from '../api.ts';
import { levelName } from '../format.ts';
import type { LogLine, LogPage } from '../types.ts';
import { ErrorBox, Field } from './ui.tsx';

/**
 * A run's logs with a level filter and a text search (both applied by the API), following new lines
 * while the run is going: it asks only for lines after the last one shown, once a second.
 */
export function Logs({ runId, running, taskNames }: { runId: string; running: boolean; taskNames: Map<string, string> }) {
  const [minLevel, setMinLevel] = useState('');
  const [q, setQ] = useState('');
  const [follow, setFollow] = useState(true);
  const [lines, setLines] = useState<LogLine[]>([]);
  const [error, setError] = useState<Error>();
  const cursor = useRef<string | null>(null);
  const box = useRef<HTMLDivElement>(null);
  const filterKey = `${runId}|${minLevel}|${q}`;
  const fetchMore = async (reset: boolean) => {
    try {
      const page = await get<LogPage>(`/api/flow-runs/${runId}/logs/search`, { min_level: minLevel || undefined, q: q || undefined, cursor: reset ? undefined : (cursor.current ?? undefined), limit: 1000 });
      cursor.current = page.next_cursor;
      setLines((old) => (reset ? page.items : [...old, ...page.items]).slice(-5000));
      setError(undefined);
    } catch (err) {
      setError(err as Error);
    }
  };
  useEffect(() => {
    cursor.current = null;
    void fetchMore(true);
  }, [filterKey]);
  useEffect(() => {
    if (!running || !follow) return;
    const t = window.setInterval(() => void fetchMore(false), 1000);
    return () => window.clearInterval(t);
  }, [running, follow, filterKey]);
  useEffect(() => {
    if (follow && box.current) box.current.scrollTop = box.current.scrollHeight;
  }, [lines.length, follow]);
  return (
    <div>
      <form class="filters" onSubmit={(e) => e.preventDefault()} aria-label="Filter logs">
        <Field label="Level">
          <select value={minLevel} onChange={(e) => setMinLevel((e.target as HTMLSelectElement).value)}>
            <option value="">All</option>
            <option value="30">Info and above</option>
            <option value="40">Warnings and errors</option>
            <option value="50">Errors</option>
          </select>
        </Field>
        <Field label="Search logs">
          <input type="search" defaultValue={q} onChange={(e) => setQ((e.target as HTMLInputElement).value.trim())} />
        </Field>
        <label class="check">
          <input type="checkbox" checked={follow} onChange={(e) => setFollow((e.target as HTMLInputElement).checked)} /> Follow
          {running ? '' : ' (run finished)'}
        </label>
      </form>
      <ErrorBox error={error} />
      <div class="logs" ref={box} tabIndex={0} role="log" aria-label="Log lines" aria-live="off">
        {lines.length === 0 ? (
          <p class="muted">No log lines{q || minLevel ? ' match' : ' yet'}.</p>
        ) : (
          lines.map((l) => (
            <div key={l.id} class={`log lv-${levelName(l.level)}`}>
              <time dateTime={l.timestamp}>{new Date(l.timestamp).toLocaleTimeString(undefined, { hour12: false })}</time>
              <span class="lv">{levelName(l.level).toUpperCase()}</span>
              <span class="src">{l.task_run_id ? (taskNames.get(l.task_run_id) ?? 'task') : 'flow'}</span>
              <span class="msg">{l.message}</span>
            </div>
          ))
        )}
      </div>
    </div>
  );
}
