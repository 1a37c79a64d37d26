import { useState } from 'preact/hooks';
import { get, post } from '../api.ts';
import { StatusBadge } from '../components/state.tsx';
import { ErrorBox, Json, Kv, Loading, Section, Time } from '../components/ui.tsx';
import { useResource } from '../hooks.ts';
import type { Attempt, Delivery } from '../types.ts';

const SIGNATURE_HEADERS = new Set(['webhook-id', 'webhook-timestamp', 'webhook-signature']);

/** One delivery: the request, every attempt with its headers and answer, the signature headers, replay. */
export function DeliveryPage({ id = '' }: { id?: string }) {
  const delivery = useResource(() => get<Delivery>(`/api/webhook-deliveries/${id}`), id, { topics: [`delivery:${id}`], pollMs: 3000 });
  const attempts = useResource(() => get<{ items: Attempt[] }>(`/api/webhook-deliveries/${id}/attempts`), id, { topics: [`delivery:${id}`], pollMs: 3000 });
  const [error, setError] = useState<Error>();
  const [status, setStatus] = useState<string>();
  const d = delivery.data;
  if (!d) return delivery.error ? <ErrorBox error={delivery.error} /> : <Loading what="delivery" />;
  const replay = async () => {
    setError(undefined);
    try {
      const r = await post<{ series: number }>(`/api/webhook-deliveries/${id}/replay`);
      setStatus(`Replay queued as series ${r.series}.`);
      delivery.reload();
      attempts.reload();
    } catch (err) {
      setError(err as Error);
    }
  };
  const first = attempts.data?.items[0];
  return (
    <>
      <div class="page-head">
        <h1>Delivery</h1>
        <StatusBadge status={d.status} />
        <button type="button" class="primary" onClick={replay}>
          Replay
        </button>
        <span role="status" class="muted">
          {status}
        </span>
      </div>
      <ErrorBox error={error} />
      <Section title="Request">
        <Kv
          rows={[
            ['URL', <code>{`${d.method} ${d.url}`}</code>],
            ['Automation', d.automation_id ? <a href={`/automations/${d.automation_id}${d.firing_id ? `?firing=${d.firing_id}` : ''}`}>{d.automation_id}</a> : '—'],
            ['Triggering event', d.event_id ? <a href={`/events?id=${d.event_id}`}>{d.event_id}</a> : '—'],
            ['Signed', d.signed ? 'yes (Standard Webhooks; the secret is never shown)' : 'no'],
            ['Created', <Time iso={d.created} />],
            ['Series', String(d.series)],
            ['Next attempt', <Time iso={d.next_attempt_at} />],
          ]}
        />
        {d.signed && first && (
          <>
            <h3>Signature headers</h3>
            <Json value={Object.fromEntries(Object.entries(first.request_headers).filter(([k]) => SIGNATURE_HEADERS.has(k)))} label="Signature headers" />
          </>
        )}
        <h3>Body</h3>
        <Json value={d.body} label="Request body" />
      </Section>
      <Section title="Attempts">
        <ErrorBox error={attempts.error} />
        {!attempts.data ? (
          <Loading what="attempts" />
        ) : (
          <ol class="attempts">
            {attempts.data.items.map((a) => (
              <li key={`${a.series}-${a.attempt}`}>
                <h3>
                  Series {a.series}, attempt {a.attempt}: <StatusBadge status={a.outcome === 'retry' ? 'retrying' : a.outcome} /> {a.status_code ?? 'no response'} in {Math.round(a.latency_ms)} ms, <Time iso={a.started} />
                </h3>
                {a.error && <p class="error-text">Error: {a.error}</p>}
                <div class="grid2">
                  <div>
                    <h4>Request headers</h4>
                    <Json value={a.request_headers} label="Request headers" />
                  </div>
                  <div>
                    <h4>Response headers</h4>
                    <Json value={a.response_headers ?? {}} label="Response headers" />
                  </div>
                </div>
                <h4>Response body (first 4 KiB)</h4>
                <Json value={a.response_body ?? ''} label="Response body" />
              </li>
            ))}
          </ol>
        )}
      </Section>
    </>
  );
}
