import { useState } from 'preact/hooks';
import { get, post, type Page } from '../api.ts';
import { RangePicker } from '../components/range.tsx';
import { STATE_TYPES, StateBadge } from '../components/state.tsx';
import { ChoiceFilter, Empty, ErrorBox, Field, Loading, Pager, Time } from '../components/ui.tsx';
import { duration, rangeBounds } from '../format.ts';
import { useResource } from '../hooks.ts';
import { location, queryParams, setQuery } from '../router.ts';
import type { Deployment, RunRow } from '../types.ts';

const TERMINAL = new Set(['COMPLETED', 'FAILED', 'CANCELLED', 'CRASHED']);
const FILTERS = ['state', 'flow_name', 'deployment_id', 'work_pool', 'tag', 'q', 'order'] as const;

/** Text filters apply on Enter or leaving the field, so typing does not fire a request per key. */
function TextFilter({ name, label, value }: { name: string; label: string; value: string }) {
  return (
    <Field label={label}>
      <input
        key={value}
        type="search"
        name={name}
        defaultValue={value}
        onChange={(e) => setQuery({ [name]: (e.target as HTMLInputElement).value.trim(), cursor: undefined })}
      />
    </Field>
  );
}

export function RunsPage() {
  const q = queryParams();
  const range = q.range ?? '24h';
  const key = location.value.search;
  const runs = useResource(
    () => get<Page<RunRow>>('/api/flow-runs/search', { ...Object.fromEntries(FILTERS.map((f) => [f, q[f]])), ...rangeBounds(range), cursor: q.cursor, limit: 50 }),
    key,
    { topics: ['flow-runs'] },
  );
  const deployments = useResource(() => get<Page<Deployment>>('/api/deployments', { limit: 500 }), 'deployments');
  const pools = useResource(() => get<Page<{ name: string }>>('/api/work-pools'), 'pools');
  const choose = (name: string) => (v: string) => setQuery({ [name]: v, cursor: undefined });
  const [selected, setSelected] = useState<Set<string>>(new Set());
  const [message, setMessage] = useState<string>();
  const toggle = (id: string) => {
    const s = new Set(selected);
    if (s.has(id)) s.delete(id);
    else s.add(id);
    setSelected(s);
  };
  const cancelSelected = async () => {
    const ids = [...selected];
    const results = await Promise.allSettled(ids.map((id) => post(`/api/flow-runs/${id}/cancel`, { message: 'Cancelled from the dashboard' })));
    const failed = results.filter((r) => r.status === 'rejected').length;
    setMessage(`${ids.length - failed} run(s) cancelled${failed ? `, ${failed} refused (already finished?)` : ''}.`);
    setSelected(new Set());
    runs.reload();
  };
  const items = runs.data?.items ?? [];
  const cancellable = items.filter((r) => !TERMINAL.has(r.state.type));
  return (
    <>
      <div class="page-head">
        <h1>Flow runs</h1>
        <RangePicker value={range} onChange={(v) => setQuery({ range: v, cursor: undefined })} />
      </div>
      <form class="filters" role="search" aria-label="Filter runs" onSubmit={(e) => e.preventDefault()}>
        <Field label="State">
          <select name="state" value={q.state ?? ''} onChange={(e) => setQuery({ state: (e.target as HTMLSelectElement).value, cursor: undefined })}>
            <option value="">Any</option>
            {STATE_TYPES.map((s) => (
              <option key={s} value={s}>
                {s.charAt(0) + s.slice(1).toLowerCase()}
              </option>
            ))}
            <option value="Late">Late</option>
            <option value="FAILED,CRASHED">Failed or crashed</option>
          </select>
        </Field>
        <TextFilter name="q" label="Name contains" value={q.q ?? ''} />
        <TextFilter name="flow_name" label="Flow" value={q.flow_name ?? ''} />
        <ChoiceFilter
          label="Deployment"
          value={q.deployment_id ?? ''}
          options={deployments.data?.items.map((d) => ({ value: d.id, label: `${d.flow}/${d.name}` }))}
          onChange={choose('deployment_id')}
        />
        <ChoiceFilter label="Work pool" value={q.work_pool ?? ''} options={pools.data?.items.map((p) => ({ value: p.name, label: p.name }))} onChange={choose('work_pool')} />
        <TextFilter name="tag" label="Tag" value={q.tag ?? ''} />
        <Field label="Order">
          <select name="order" value={q.order ?? 'desc'} onChange={(e) => choose('order')((e.target as HTMLSelectElement).value === 'asc' ? 'asc' : '')}>
            <option value="desc">Newest first</option>
            <option value="asc">Oldest first</option>
          </select>
        </Field>
      </form>
      <div class="toolbar">
        <button type="button" disabled={selected.size === 0} onClick={cancelSelected}>
          Cancel selected ({selected.size})
        </button>
        <span role="status" class="muted">
          {message}
        </span>
      </div>
      <ErrorBox error={runs.error} />
      {!runs.data ? (
        <Loading what="runs" />
      ) : items.length === 0 ? (
        <Empty>No runs match these filters in this range.</Empty>
      ) : (
        <table class="runs">
          <caption class="sr-only">Flow runs, {q.order === 'asc' ? 'oldest' : 'newest'} first</caption>
          <thead>
            <tr>
              <th scope="col">
                <input
                  type="checkbox"
                  aria-label="Select every unfinished run on this page"
                  checked={cancellable.length > 0 && cancellable.every((r) => selected.has(r.id))}
                  onChange={(e) => setSelected(new Set((e.target as HTMLInputElement).checked ? cancellable.map((r) => r.id) : []))}
                />
              </th>
              <th scope="col">Run</th>
              <th scope="col">State</th>
              <th scope="col">Flow</th>
              <th scope="col">Deployment</th>
              <th scope="col">Pool</th>
              <th scope="col">Created</th>
              <th scope="col">Duration</th>
            </tr>
          </thead>
          <tbody>
            {items.map((r) => (
              <tr key={r.id} data-run-id={r.id}>
                <td>
                  <input type="checkbox" aria-label={`Select ${r.name}`} disabled={TERMINAL.has(r.state.type)} checked={selected.has(r.id)} onChange={() => toggle(r.id)} />
                </td>
                <td>
                  <a href={`/runs/${r.id}`}>{r.name}</a>
                  {r.tags.map((t) => (
                    <span key={t} class="tag">
                      {t}
                    </span>
                  ))}
                </td>
                <td>
                  <StateBadge type={r.state.type} name={r.state.name} />
                </td>
                <td>{r.flow_name}</td>
                <td>{r.deployment_id ? <a href={`/deployments/${r.deployment_id}`}>{r.deployment_name ?? r.deployment_id}</a> : '—'}</td>
                <td>{r.work_pool ?? '—'}</td>
                <td>
                  <Time iso={r.created} />
                </td>
                <td>{duration(r.total_run_time_seconds || (r.start_time && !r.end_time ? (Date.now() - Date.parse(r.start_time)) / 1000 : null))}</td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
      <Pager cursor={q.cursor} next={runs.data?.next_cursor ?? null} onFirst={() => setQuery({ cursor: undefined })} onNext={(c) => setQuery({ cursor: c })} />
    </>
  );
}
