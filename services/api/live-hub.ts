import type { NatsConnection, Subscription } from '@nats-io/nats-core';
import { ENGINE_EVENT_PREFIX, type Names } from '../../core/names.ts';
import type { EventBus } from '../../infra/bus.ts';
import { LiveKind, topicsOfMessage } from './live-topics.ts';

type Listener = (topics: readonly string[]) => void;

const EVENTS_ONLY: readonly string[] = [LiveKind.events];

/**
 * The NATS core subscriptions of one API process, shared by all its dashboard streams: a thousand open
 * dashboards cost two subscriptions, not a thousand. One on the engine's own events (`reflex.*`), decoded
 * into topics (live-topics.ts), while anyone listens; one on every subject, only while a listener wants
 * the `events` topic (the events page), on the users' subject tree: business events are never decoded, and while no events page is
 * open they do not reach the API at all, however busy the stream.
 */
export class LiveHub {
  private readonly listeners = new Map<Listener, { events: boolean }>();
  private engine: Subscription | undefined;
  private all: Subscription | undefined;

  constructor(private readonly deps: { nats: NatsConnection; names: Names; bus: EventBus }) {}

  /** Adds a listener; answers once the subscriptions are registered with the server (nothing after is missed). */
  async listen(listener: Listener, options: { events: boolean }): Promise<() => void> {
    const { nats, names, bus } = this.deps;
    this.listeners.set(listener, options);
    this.engine ??= nats.subscribe(names.eventFilterSubject(`${ENGINE_EVENT_PREFIX}*`), {
      callback: (err, msg) => {
        if (err) return;
        let topics: readonly string[];
        try {
          topics = topicsOfMessage(names.eventNameFromSubject(msg.subject), () => bus.decode(msg.data));
        } catch {
          // Not one of our events (another publisher's bytes): nothing the dashboard shows changed.
          return;
        }
        for (const l of this.listeners.keys()) l(topics);
      },
    });
    if (options.events) {
      // Users' events only: the engine's (their own subject tree) reach the listeners through the other
      // subscription, with their topics.
      this.all ??= nats.subscribe(names.eventTrees.users, {
        callback: (err, msg) => {
          // A replica of an older version publishes the engine's events on the users' tree.
          if (err || names.eventNameFromSubject(msg.subject).startsWith(ENGINE_EVENT_PREFIX)) return;
          for (const [l, o] of this.listeners) if (o.events) l(EVENTS_ONLY);
        },
      });
    }
    const stop = () => {
      if (!this.listeners.delete(listener)) return;
      if (this.all && ![...this.listeners.values()].some((o) => o.events)) {
        this.all.unsubscribe();
        this.all = undefined;
      }
      if (this.engine && this.listeners.size === 0) {
        this.engine.unsubscribe();
        this.engine = undefined;
      }
    };
    try {
      await nats.flush();
    } catch (err) {
      stop();
      throw err;
    }
    return stop;
  }
}
