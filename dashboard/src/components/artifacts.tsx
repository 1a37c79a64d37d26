import { get, type Page } from '../api.ts';
import { useResource } from '../hooks.ts';
import { Empty, ErrorBox, Json, Loading, Time } from './ui.tsx';

/** An artifact as GET /api/artifacts answers it (schemas/artifact.ts). */
interface Artifact {
  id: string;
  key: string | null;
  type: 'table' | 'markdown' | 'link' | 'progress';
  description: string | null;
  data: Record<string, unknown>;
  task_run_id: string | null;
  created: string;
}

/**
 * Rows of a table artifact, from a list of records or a record of columns, in the author's column order
 * (`column_order`: the stored JSON's own key order is Postgres's, not theirs).
 */
function tableRows(data: Record<string, unknown>): { columns: string[]; rows: unknown[][] } {
  const order = Array.isArray(data.column_order) ? (data.column_order as string[]) : null;
  if (Array.isArray(data.rows)) {
    const records = data.rows as Record<string, unknown>[];
    const columns = order ?? [...new Set(records.flatMap((r) => Object.keys(r)))];
    return { columns, rows: records.map((r) => columns.map((c) => r[c])) };
  }
  const cols = (data.columns ?? {}) as Record<string, unknown[]>;
  const columns = order ?? Object.keys(cols);
  const n = columns.length ? cols[columns[0]].length : 0;
  return { columns, rows: Array.from({ length: n }, (_, i) => columns.map((c) => cols[c][i])) };
}

const cell = (v: unknown) => (v === null || v === undefined ? '' : typeof v === 'string' ? v : JSON.stringify(v));

function Body({ a }: { a: Artifact }) {
  switch (a.type) {
    case 'table': {
      const { columns, rows } = tableRows(a.data);
      return (
        <div class="table-scroll">
          <table>
            <caption class="sr-only">{a.key ?? a.description ?? 'Table artifact'}</caption>
            <thead>
              <tr>{columns.map((c) => <th scope="col" key={c}>{c}</th>)}</tr>
            </thead>
            <tbody>
              {rows.slice(0, 500).map((r, i) => (
                <tr key={i}>{r.map((v, j) => <td key={j}>{cell(v)}</td>)}</tr>
              ))}
            </tbody>
          </table>
          {rows.length > 500 && <p class="muted">First 500 of {rows.length} rows.</p>}
        </div>
      );
    }
    case 'markdown':
      // Shown as text, never as HTML: a run's markdown is untrusted in the viewer's session.
      return <pre class="artifact-markdown">{String(a.data.markdown ?? '')}</pre>;
    case 'link': {
      const url = String(a.data.url ?? '');
      // The API stores only http(s) links; checked again here so nothing else becomes a clickable href.
      return /^https?:\/\//i.test(url) ? <a href={url} rel="noopener noreferrer nofollow" target="_blank">{String(a.data.text ?? url)}</a> : <code>{url}</code>;
    }
    case 'progress': {
      const p = Number(a.data.progress ?? 0);
      return (
        <p>
          <progress max={100} value={p} aria-label={`Progress ${p}%`} /> {p}%
        </p>
      );
    }
    default:
      return <Json value={a.data} label="Artifact data" />;
  }
}

/** A run's artifacts, newest first, refreshed with the run. */
export function RunArtifacts({ runId, topics }: { runId: string; topics: string[] }) {
  const res = useResource(() => get<Page<Artifact>>('/api/artifacts', { flow_run_id: runId, limit: '50' }), runId, { topics });
  if (res.error) return <ErrorBox error={res.error} />;
  if (!res.data) return <Loading what="artifacts" />;
  if (res.data.items.length === 0) return <Empty>No artifacts.</Empty>;
  return (
    <div class="artifacts">
      {res.data.items.map((a) => (
        <article key={a.id} class="artifact" aria-label={`Artifact ${a.key ?? a.id}`}>
          <header>
            <strong>{a.key ?? a.type}</strong> <span class="tag">{a.type}</span> <span class="muted"><Time iso={a.created} /></span>
            {a.description && <p class="muted">{a.description}</p>}
          </header>
          <Body a={a} />
        </article>
      ))}
    </div>
  );
}
