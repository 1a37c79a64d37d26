import { useEffect, useRef, useState } from 'preact/hooks';
import { get, post, type Page } from '../api.ts';
import { RangePicker } from '../components/range.tsx';
import { Empty, ErrorBox, Field, Json, Kv, Loading, Section, Time } from '../components/ui.tsx';
import { rangeBounds } from '../format.ts';
import { onLive } from '../live.ts';
import { location, navigate, queryParams, setQuery } from '../router.ts';
import type { StoredEvent } from '../types.ts';

const PAGE = 50;

function filterOf(q: Record<string, string>) {
  const list = (v: string | undefined) => (v ? v.split(',').map((s) => s.trim()).filter(Boolean) : undefined);
  return { event: list(q.event), resource_id: list(q.resource), related_id: list(q.related) };
}

/** The trigger an automation built from this event starts with: the same name, the same resource. */
export function automationDraftFrom(e: StoredEvent) {
  return {
    name: `on-${e.event}`.slice(0, 100),
    description: `Created from event ${e.id}`,
    enabled: false,
    trigger: { type: 'event', posture: 'Reactive', expect: [e.event], match: { 'reflex.resource.id': e.resource['reflex.resource.id'] }, threshold: 1, within: 0 },
    actions: [{ type: 'do-nothing' }],
  };
}

function EventDetail({ id }: { id: string }) {
  const [event, setEvent] = useState<StoredEvent>();
  const [error, setError] = useState<Error>();
  useEffect(() => {
    setEvent(undefined);
    get<StoredEvent>(`/api/events/${id}`).then(setEvent, setError);
  }, [id]);
  if (error) return <ErrorBox error={error} />;
  if (!event) return <Loading what="event" />;
  return (
    <Section
      title="Event"
      actions={
        <button type="button" class="primary" onClick={() => navigate(`/automations/new?from_event=${encodeURIComponent(event.id)}`)}>
          Automate this
        </button>
      }
    >
      <Kv
        rows={[
          ['Name', <code>{event.event}</code>],
          ['Occurred', <Time iso={event.occurred} />],
          ['Received', <Time iso={event.received} />],
          ['Id', <code>{event.id}</code>],
          ['Follows', event.follows ? <a href={`/events?id=${event.follows}`}>{event.follows}</a> : '—'],
        ]}
      />
      <h3>Resource</h3>
      <Json value={event.resource} label="Resource labels" />
      <h3>Related resources</h3>
      {event.related.length === 0 ? <Empty>None.</Empty> : <Json value={event.related} label="Related resources" />}
      <h3>Payload</h3>
      <Json value={event.payload} label="Payload" />
    </Section>
  );
}

/**
 * The live feed: the newest page of events matching the filters, refreshed when the live stream says
 * events arrived. Paused, or scrolled away from the top, new events wait behind an "N new" banner
 * instead of pushing the rows the reader is looking at.
 */
export function EventsPage() {
  const q = queryParams();
  const range = q.range ?? '1h';
  const key = `${q.event}|${q.resource}|${q.related}|${range}|${q.cursor}`;
  const [shown, setShown] = useState<StoredEvent[]>();
  const [waiting, setWaiting] = useState<StoredEvent[]>([]);
  const [next, setNext] = useState<string | null>(null);
  const [error, setError] = useState<Error>();
  const [paused, setPaused] = useState(false);
  const state = useRef({ shown: [] as StoredEvent[], paused: false, key });
  state.current.paused = paused;
  const fetchPage = () => {
    const b = rangeBounds(range);
    return post<Page<StoredEvent>>('/api/events/filter', { ...filterOf(q), occurred_after: b.since, occurred_before: b.until, cursor: q.cursor, limit: PAGE });
  };
  useEffect(() => {
    state.current.key = key;
    setShown(undefined);
    setWaiting([]);
    fetchPage().then(
      (p) => {
        if (state.current.key !== key) return;
        state.current.shown = p.items;
        setShown(p.items);
        setNext(p.next_cursor);
        setError(undefined);
      },
      setError,
    );
  }, [key]);
  useEffect(() => {
    if (q.cursor) return; // an older page does not move
    // At most one refetch a second, however busy the stream: a feed is read by a person.
    let last = 0;
    let timer: number | undefined;
    const refetch = () => {
      const wait = last + 1000 - Date.now();
      if (wait > 0) {
        timer ??= window.setTimeout(() => {
          timer = undefined;
          refetch();
        }, wait);
        return;
      }
      last = Date.now();
      void fetchPage().then((p) => {
        if (state.current.key !== key) return;
        const known = new Set(state.current.shown.map((e) => e.id));
        const fresh = p.items.filter((e) => !known.has(e.id));
        if (fresh.length === 0) return;
        if (state.current.paused || window.scrollY > 80) setWaiting((w) => [...fresh.filter((f) => !w.some((x) => x.id === f.id)), ...w].slice(0, 500));
        else {
          state.current.shown = [...fresh, ...state.current.shown].slice(0, 500);
          setShown(state.current.shown);
        }
      });
    };
    const stop = onLive(['events'], refetch);
    return () => {
      stop();
      window.clearTimeout(timer);
    };
  }, [key]);
  const showWaiting = () => {
    state.current.shown = [...waiting, ...state.current.shown].slice(0, 500);
    setShown(state.current.shown);
    setWaiting([]);
    window.scrollTo(0, 0);
  };
  const text = (name: string, label: string, hint: string) => (
    <Field label={label} hint={hint}>
      <input key={`${name}${q[name]}`} type="search" name={name} defaultValue={q[name] ?? ''} onChange={(e) => setQuery({ [name]: (e.target as HTMLInputElement).value.trim(), cursor: undefined })} />
    </Field>
  );
  return (
    <>
      <div class="page-head">
        <h1>Events</h1>
        <RangePicker value={range} onChange={(v) => setQuery({ range: v, cursor: undefined })} />
        <button type="button" aria-pressed={paused} onClick={() => setPaused(!paused)}>
          {paused ? 'Resume live feed' : 'Pause live feed'}
        </button>
      </div>
      <form class="filters" role="search" aria-label="Filter events" onSubmit={(e) => e.preventDefault()}>
        {text('event', 'Event name', 'order.created, order.* (comma-separated)')}
        {text('resource', 'Resource id', 'exact, or a prefix ending in *')}
        {text('related', 'Related resource id', 'e.g. reflex.flow-run.<id>')}
      </form>
      {waiting.length > 0 && (
        <div class="banner" role="status">
          <button type="button" class="primary" onClick={showWaiting}>
            {waiting.length} new event{waiting.length === 1 ? '' : 's'} — show
          </button>
        </div>
      )}
      {q.id && <EventDetail id={q.id} />}
      <ErrorBox error={error} />
      {!shown ? (
        <Loading what="events" />
      ) : shown.length === 0 ? (
        <Empty>No events match in this range.</Empty>
      ) : (
        <table class="events">
          <caption class="sr-only">Events, newest first</caption>
          <thead>
            <tr>
              <th scope="col">Occurred</th>
              <th scope="col">Event</th>
              <th scope="col">Resource</th>
              <th scope="col">Related</th>
            </tr>
          </thead>
          <tbody>
            {shown.map((e) => (
              <tr key={e.id} aria-current={q.id === e.id ? 'true' : undefined}>
                <td>
                  <Time iso={e.occurred} />
                </td>
                <td>
                  <a href={`${location.value.path}?${new URLSearchParams({ ...q, id: e.id }).toString()}`}>{e.event}</a>
                </td>
                <td>
                  <code>{e.resource['reflex.resource.id']}</code>
                </td>
                <td class="small">{e.related.map((r) => `${r['reflex.resource.role'] ?? ''}: ${r['reflex.resource.id']}`).join(', ')}</td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
      <nav class="pager" aria-label="Pagination">
        <button type="button" disabled={!q.cursor} onClick={() => setQuery({ cursor: undefined })}>
          ← Newest
        </button>
        <button type="button" disabled={!next} onClick={() => next && setQuery({ cursor: next })}>
          Older →
        </button>
      </nav>
    </>
  );
}
