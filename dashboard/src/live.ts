import { signal } from '@preact/signals';

/**
 * One live connection for the whole dashboard: an EventSource on /api/live (the server bridges NATS,
 * filters and coalesces). Pages subscribe to topics and refetch what they show when one changes. When
 * the stream cannot be held (a proxy that buffers, the server gone), pages fall back to polling: every
 * subscriber is called every POLL_MS until the stream is back.
 *
 * The stream asks for the `events` topic only while a page listens to it (the events page): the server
 * then stops receiving business events for this dashboard altogether, however busy the event stream.
 * Opening or leaving that page reconnects once.
 */
export type LiveStatus = 'connecting' | 'live' | 'polling';
export const liveStatus = signal<LiveStatus>('connecting');

const POLL_MS = 5000;
type Listener = { matches: (topic: string) => boolean; fire: () => void };
const listeners = new Set<Listener>();
let source: EventSource | undefined;
let pollTimer: number | undefined;
let failures = 0;
let opened = false;
/** Whether the open stream asked for the `events` topic. */
let streamHasEvents = false;
let switchTimer: number | undefined;

/** Every kind of topic the API sends (services/api/live-topics.ts) but `events`. */
const KINDS = 'flow-runs,flow-run,automations,automation,deliveries,delivery,deployments';
const EVENTS = 'events';
const wantsEvents = () => [...listeners].some((l) => l.matches(EVENTS));

function fireAll(): void {
  for (const l of listeners) l.fire();
}

function startPolling(): void {
  liveStatus.value = 'polling';
  if (pollTimer === undefined) pollTimer = window.setInterval(fireAll, POLL_MS);
}

function stopPolling(): void {
  if (pollTimer !== undefined) window.clearInterval(pollTimer);
  pollTimer = undefined;
}

export function connectLive(): void {
  if (source || typeof EventSource === 'undefined') {
    if (!source) startPolling();
    return;
  }
  streamHasEvents = wantsEvents();
  source = new EventSource(`/api/live?kinds=${KINDS}${streamHasEvents ? `,${EVENTS}` : ''}`);
  source.onopen = () => {
    failures = 0;
    stopPolling();
    liveStatus.value = 'live';
    // A reconnect may have missed changes: refetch everything shown once.
    if (opened) fireAll();
    opened = true;
  };
  source.addEventListener('change', (e) => {
    let topics: string[] = [];
    try {
      topics = (JSON.parse((e as MessageEvent<string>).data) as { topics: string[] }).topics;
    } catch {
      return;
    }
    for (const l of listeners) if (topics.some(l.matches)) l.fire();
  });
  source.onerror = () => {
    failures += 1;
    // EventSource retries by itself; after a few failures poll meanwhile so pages stay fresh.
    if (failures >= 2) startPolling();
    if (source?.readyState === EventSource.CLOSED) {
      source = undefined;
      window.setTimeout(connectLive, 3000);
    }
  };
}

/** Reconnects (once, after the pages of this render subscribed) when whether `events` is wanted changed. */
function scheduleSwitch(): void {
  if (!source || switchTimer !== undefined) return;
  switchTimer = window.setTimeout(() => {
    switchTimer = undefined;
    if (!source || wantsEvents() === streamHasEvents) return;
    source.close();
    source = undefined;
    if (liveStatus.value === 'live') liveStatus.value = 'connecting';
    connectLive();
  }, 0);
}

export function disconnectLive(): void {
  source?.close();
  source = undefined;
  opened = false;
  stopPolling();
}

/**
 * Calls `fire` when any of the topics changes: `flow-runs` matches that topic, `flow-run:<id>` that run.
 * Answers the unsubscribe function.
 */
export function onLive(topics: string[], fire: () => void): () => void {
  const set = new Set(topics);
  const l: Listener = { matches: (t) => set.has(t), fire };
  listeners.add(l);
  scheduleSwitch();
  return () => {
    listeners.delete(l);
    scheduleSwitch();
  };
}

/** Extra polling for data that has no events (queue depths, worker heartbeats, log lines). */
export { POLL_MS };
