import { get, type Page } from '../api.ts';
import { Empty, ErrorBox, Loading, Section, Time } from '../components/ui.tsx';
import { useResource } from '../hooks.ts';
import type { SlotHolder } from '../types.ts';

/** A limit as GET /api/concurrency-limits answers it (that route's own schema, not one of schemas/). */
interface Limit {
  name: string;
  limit: number;
  active_slots: number;
}
interface Holders extends Limit {
  holders: SlotHolder[];
}

function LimitHolders({ name }: { name: string }) {
  const h = useResource(() => get<Holders>(`/api/concurrency-limits/${encodeURIComponent(name)}/holders`), name, { pollMs: 3000 });
  if (!h.data) return <Loading what="holders" />;
  if (h.data.holders.length === 0) return <Empty>No holder right now.</Empty>;
  return (
    <ul class="plain">
      {h.data.holders.map((x) => (
        <li key={x.lease_id}>
          Lease <code>{x.lease_id}</code>: {x.slots} slot{x.slots === 1 ? '' : 's'}, lapses <Time iso={x.expires} /> unless renewed
        </li>
      ))}
    </ul>
  );
}

/** Global concurrency limits with their current holders (polled: leases emit no events). */
export function ConcurrencyPage() {
  const limits = useResource(() => get<Page<Limit>>('/api/concurrency-limits'), 'limits', { pollMs: 3000 });
  return (
    <>
      <h1>Concurrency limits</h1>
      <ErrorBox error={limits.error} />
      {!limits.data ? (
        <Loading what="limits" />
      ) : limits.data.items.length === 0 ? (
        <Empty>No concurrency limits. PUT /api/concurrency-limits/&lt;name&gt; creates one.</Empty>
      ) : (
        limits.data.items.map((l) => (
          <Section key={l.name} title={`Limit ${l.name}`}>
            <p>
              {l.active_slots} of {l.limit} slots in use
            </p>
            <meter min={0} max={Math.max(1, l.limit)} value={l.active_slots} aria-label={`${l.name}: ${l.active_slots} of ${l.limit} slots in use`} />
            <LimitHolders name={l.name} />
          </Section>
        ))
      )}
    </>
  );
}
