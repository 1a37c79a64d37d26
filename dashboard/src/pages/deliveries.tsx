import { get, type Page } from '../api.ts';
import { RangePicker } from '../components/range.tsx';
import { StatusBadge } from '../components/state.tsx';
import { ChoiceFilter, Empty, ErrorBox, Field, Loading, Pager, Section, Time } from '../components/ui.tsx';
import { rangeBounds } from '../format.ts';
import { useResource } from '../hooks.ts';
import { location, queryParams, setQuery } from '../router.ts';
import type { Delivery, Endpoint, FailedRequest } from '../types.ts';

function FailedRequests({ endpoint }: { endpoint: Endpoint }) {
  const failed = useResource(() => get<Page<FailedRequest>>(`/api/webhooks/${endpoint.id}/failed-requests`, { limit: 20 }), endpoint.id);
  if (!failed.data) return <Loading what="failed requests" />;
  if (failed.data.items.length === 0) return <Empty>No failed requests.</Empty>;
  return (
    <ul class="plain">
      {failed.data.items.map((r) => (
        <li key={r.id}>
          <Time iso={r.received} /> {r.method} — {r.reason}
          <details>
            <summary>Body</summary>
            <pre class="json" tabIndex={0}>
              {r.body}
            </pre>
          </details>
        </li>
      ))}
    </ul>
  );
}

/** Outgoing deliveries with filters, and the incoming endpoints with their failed-request logs. */
export function DeliveriesPage() {
  const q = queryParams();
  const range = q.range ?? '24h';
  const deliveries = useResource(
    () => {
      const b = rangeBounds(range);
      return get<Page<Delivery>>('/api/webhook-deliveries', { status: q.status, automation_id: q.automation_id, since: b.since, until: b.until, cursor: q.cursor, limit: 50 });
    },
    location.value.search,
    { topics: ['deliveries'], pollMs: 5000 },
  );
  const endpoints = useResource(() => get<Page<Endpoint>>('/api/webhooks'), 'endpoints');
  const automations = useResource(() => get<Page<{ id: string; name: string }>>('/api/automations'), 'automations');
  return (
    <>
      <div class="page-head">
        <h1>Webhooks</h1>
        <RangePicker value={range} onChange={(v) => setQuery({ range: v, cursor: undefined })} />
      </div>
      <Section title="Outgoing deliveries">
        <form class="filters" role="search" aria-label="Filter deliveries" onSubmit={(e) => e.preventDefault()}>
          <Field label="Status">
            <select value={q.status ?? ''} onChange={(e) => setQuery({ status: (e.target as HTMLSelectElement).value, cursor: undefined })}>
              <option value="">Any</option>
              <option value="pending">Pending</option>
              <option value="retrying">Retrying</option>
              <option value="succeeded">Succeeded</option>
              <option value="failed">Failed</option>
            </select>
          </Field>
          <ChoiceFilter
            label="Automation"
            value={q.automation_id ?? ''}
            options={automations.data?.items.map((a) => ({ value: a.id, label: a.name }))}
            onChange={(v) => setQuery({ automation_id: v, cursor: undefined })}
          />
        </form>
        <ErrorBox error={deliveries.error} />
        {!deliveries.data ? (
          <Loading what="deliveries" />
        ) : deliveries.data.items.length === 0 ? (
          <Empty>No deliveries match in this range.</Empty>
        ) : (
          <table>
            <caption class="sr-only">Webhook deliveries, newest first</caption>
            <thead>
              <tr>
                <th scope="col">Created</th>
                <th scope="col">Status</th>
                <th scope="col">Request</th>
                <th scope="col">Attempts</th>
                <th scope="col">Last answer</th>
                <th scope="col">Automation</th>
              </tr>
            </thead>
            <tbody>
              {deliveries.data.items.map((d) => (
                <tr key={d.id}>
                  <td>
                    <a href={`/deliveries/${d.id}`}>
                      <Time iso={d.created} />
                    </a>
                  </td>
                  <td>
                    <StatusBadge status={d.status} />
                  </td>
                  <td>
                    <code>
                      {d.method} {d.url}
                    </code>
                  </td>
                  <td>{d.attempt_count}</td>
                  <td>{d.last_status_code ?? d.last_error ?? '—'}</td>
                  <td>{d.automation_id ? <a href={`/automations/${d.automation_id}`}>{d.automation_id.slice(0, 8)}</a> : '—'}</td>
                </tr>
              ))}
            </tbody>
          </table>
        )}
        <Pager cursor={q.cursor} next={deliveries.data?.next_cursor ?? null} onFirst={() => setQuery({ cursor: undefined })} onNext={(c) => setQuery({ cursor: c })} />
      </Section>
      <Section title="Incoming endpoints">
        <div id="incoming" />
        <ErrorBox error={endpoints.error} />
        {!endpoints.data ? (
          <Loading what="endpoints" />
        ) : endpoints.data.items.length === 0 ? (
          <Empty>No incoming webhook endpoints (POST /api/webhooks creates one).</Empty>
        ) : (
          endpoints.data.items.map((e) => (
            <article key={e.id} class="sub">
              <h3>{e.name}</h3>
              <p>
                <code>{e.url}</code> · verification {e.verification} · {e.has_secret ? 'secret set (not shown)' : 'no secret'}
              </p>
              <h4>Failed requests</h4>
              <FailedRequests endpoint={e} />
            </article>
          ))
        )}
      </Section>
    </>
  );
}
