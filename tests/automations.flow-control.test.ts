import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { deterministicUuid } from '../core/ids.ts';
import { dryRun } from '../modules/automations/engine/dry-run.ts';
import { compileFlowControl, gateFiring, MAX_HELD_BYTES, tickFlow, type FlowState } from '../modules/automations/engine/flow-control.ts';
import type { Firing } from '../modules/automations/engine/firing.ts';
import { validateAutomation } from '../modules/automations/engine/validate.ts';
import { FlowControlSchema } from '../schemas/automation.ts';
import type { ReflexEvent } from '../schemas/event.ts';

// Flow control, pure and table-driven with a fake clock: each step is an event at an event time (the
// clock moves with it) or a tick at a time; the table says what is released when, with which events.

const T0 = Date.parse('2030-01-01T00:00:00.000Z');
let n = 0;
function ev(atSeconds: number, resource: Record<string, string> = {}): ReflexEvent {
  n += 1;
  return {
    id: `00000000-0000-4000-8000-${String(n).padStart(12, '0')}`,
    occurred: new Date(T0 + atSeconds * 1000).toISOString(),
    event: 'order.created',
    resource: { 'reflex.resource.id': 'thing.1', ...resource },
    related: [],
    payload: { n },
  };
}

function firingOf(e: ReflexEvent): Firing {
  const key = `k-${e.id}`;
  return {
    id: deterministicUuid(key),
    key,
    automation_id: 'a',
    state: 'triggered',
    trigger_path: 't',
    bucket_key: '',
    triggering_labels: {},
    triggering_event: e,
    count: 1,
    window_start: e.occurred,
    window_end: null,
    fired_at: e.occurred,
  };
}

type Step = ['event', number] | ['tick', number];
/** What was released at a step: [time in seconds, state, payload.n of its events]. */
type Release = [number, Firing['state'], number[]];

function run(fc: unknown, steps: Step[]): { releases: Release[]; firings: Firing[]; timers: (number | null)[] } {
  const fp = compileFlowControl(FlowControlSchema.parse(fc))!;
  let state: FlowState | undefined;
  const releases: Release[] = [];
  const firings: Firing[] = [];
  const timers: (number | null)[] = [];
  const base = n;
  for (const [kind, at] of steps) {
    const now = T0 + at * 1000;
    const r = kind === 'event' ? gateFiring(fp, '', state, firingOf(ev(at)), now, now) : state ? tickFlow(fp, '', state, now) : null;
    if (!r) continue;
    state = r.state;
    timers.push(r.timer === null ? null : (r.timer - T0) / 1000);
    for (const f of r.released) {
      firings.push(f);
      const ns = (f.events ?? [f.triggering_event!]).map((e) => (e.payload as { n: number }).n - base);
      releases.push([at, f.state, ns]);
    }
  }
  return { releases, firings, timers };
}

const events = (...ts: number[]): Step[] => ts.map((t) => ['event', t]);
const tick = (t: number): Step => ['tick', t];

describe('flow control: debounce (trailing)', () => {
  const fc = { debounce: { period: 10 } };
  const cases: [string, unknown, Step[], Release[]][] = [
    ['acts once after the quiet period, with every event of the window', fc, [...events(0, 5, 9), tick(18.999), tick(19)], [[19, 'triggered', [1, 2, 3]]]],
    ['an event exactly one period after the last starts a new window', fc, [...events(0, 10), tick(20)], [[10, 'triggered', [1]], [20, 'triggered', [2]]]],
    ['an out-of-order event joins the window without moving its end; events come in event time order', fc, [...events(0, 8, 3), tick(17.9), tick(18)], [[18, 'triggered', [1, 3, 2]]]],
    ['a burst then silence: one action with the whole burst', fc, [...events(0, 0.1, 0.2, 0.3, 0.4), tick(10.4)], [[10.4, 'triggered', [1, 2, 3, 4, 5]]]],
    [
      'max_delay bounds the window under a steady stream',
      { debounce: { period: 10, max_delay: 30 } },
      [...events(0, 5, 10, 15, 20, 25, 30, 35), tick(44.9), tick(45)],
      [[30, 'triggered', [1, 2, 3, 4, 5, 6]], [45, 'triggered', [7, 8]]],
    ],
    ['max_events closes the window at once', { debounce: { period: 10, max_events: 3 } }, [...events(0, 1, 2, 3), tick(13)], [[2, 'triggered', [1, 2, 3]], [13, 'triggered', [4]]]],
    ['leading: acts on the first event, suppresses the window', { debounce: { period: 10, mode: 'leading' } }, [...events(0, 1, 2), tick(12), ...events(13)], [[0, 'triggered', [1]], [13, 'triggered', [4]]]],
  ];
  for (const [name, config, steps, expected] of cases) it(name, () => assert.deepEqual(run(config, steps).releases, expected));

  it('the released firing has a deterministic id, the window and every event id', () => {
    const a = run(fc, [...events(0, 5), tick(15)]).firings[0];
    assert.equal(a.count, 2);
    assert.equal(a.flow_control?.reason, 'quiet period (10s)');
    assert.equal(a.flow_control?.due, new Date(T0 + 15_000).toISOString());
    assert.deepEqual(a.flow_control?.event_ids, a.events?.map((e) => e.id));
    assert.equal(a.window_start, new Date(T0).toISOString());
    assert.equal(a.window_end, new Date(T0 + 5000).toISOString());
    assert.notEqual(a.id, a.events?.[0].id);
  });
});

describe('flow control: throttle', () => {
  const cases: [string, unknown, Step[], Release[]][] = [
    [
      'the excess waits for its slot, in order, never dropped',
      { throttle: { limit: 2, period: 10 } },
      [...events(0, 0, 0, 0, 0), tick(9.99), tick(10), tick(20)],
      [[0, 'triggered', [1]], [0, 'triggered', [2]], [10, 'triggered', [3]], [10, 'triggered', [4]], [20, 'triggered', [5]]],
    ],
    ['a slot frees exactly one period later', { throttle: { limit: 1, period: 10 } }, [...events(0, 10)], [[0, 'triggered', [1]], [10, 'triggered', [2]]]],
    [
      'burst 1 spaces the limit evenly over the period',
      { throttle: { limit: 2, period: 10, burst: 1 } },
      [...events(0, 0, 0), tick(4.9), tick(5), tick(10)],
      [[0, 'triggered', [1]], [5, 'triggered', [2]], [10, 'triggered', [3]]],
    ],
    [
      'an out-of-order event never overtakes an earlier one',
      { throttle: { limit: 1, period: 10 } },
      [...events(5, 3), tick(14.9), tick(15)],
      [[5, 'triggered', [1]], [15, 'triggered', [2]]],
    ],
    [
      'a burst then silence drains at the limit',
      { throttle: { limit: 3, period: 1 } },
      [...events(0, 0, 0, 0, 0, 0, 0), tick(1), tick(2), tick(30)],
      [[0, 'triggered', [1]], [0, 'triggered', [2]], [0, 'triggered', [3]], [1, 'triggered', [4]], [1, 'triggered', [5]], [1, 'triggered', [6]], [2, 'triggered', [7]]],
    ],
  ];
  for (const [name, config, steps, expected] of cases) it(name, () => assert.deepEqual(run(config, steps).releases, expected));

  it('the delay is recorded against the slot', () => {
    const r = run({ throttle: { limit: 1, period: 10 } }, [...events(0, 0), tick(10)]);
    assert.equal(r.firings[1].flow_control?.delayed_ms, 10_000);
    assert.equal(r.firings[1].flow_control?.due, new Date(T0 + 10_000).toISOString());
    assert.equal(r.firings[1].id, r.firings[1].id, 'same firing id as the trigger gave');
  });
});

describe('flow control: rate limit', () => {
  const fc = { rate_limit: { limit: 2, period: 10 } };
  const cases: [string, unknown, Step[], Release[]][] = [
    ['the excess is dropped and recorded as rate-limited', fc, events(0, 1, 2), [[0, 'triggered', [1]], [1, 'triggered', [2]], [2, 'rate-limited', [3]]]],
    ['a slot frees exactly one period after it was taken', fc, events(0, 1, 10, 10.5), [[0, 'triggered', [1]], [1, 'triggered', [2]], [10, 'triggered', [3]], [10.5, 'rate-limited', [4]]]],
    ['an out-of-order event counts against the slots around it', fc, events(10, 11, 2), [[10, 'triggered', [1]], [11, 'triggered', [2]], [2, 'rate-limited', [3]]]],
    ['a burst then silence: limit pass, the rest dropped, then all clear', { rate_limit: { limit: 1, period: 5 } }, events(0, 0, 0, 100), [[0, 'triggered', [1]], [0, 'rate-limited', [2]], [0, 'rate-limited', [3]], [100, 'triggered', [4]]]],
  ];
  for (const [name, config, steps, expected] of cases) it(name, () => assert.deepEqual(run(config, steps).releases, expected));

  it('a dropped firing has its own deterministic id and the reason', () => {
    const r = run(fc, events(0, 0, 0));
    const d = r.firings[2];
    assert.equal(d.state, 'rate-limited');
    assert.notEqual(d.key, firingOf(d.triggering_event!).key);
    assert.match(d.flow_control!.reason, /2 per 10s reached/);
  });
});

describe('flow control: batch', () => {
  const fc = { batch: { max_size: 3, timeout: 10 } };
  const cases: [string, unknown, Step[], Release[]][] = [
    ['max_size releases at once; the rest at the timeout', fc, [...events(0, 1, 2, 3, 4, 5, 6), tick(15.9), tick(16)], [[2, 'triggered', [1, 2, 3]], [5, 'triggered', [4, 5, 6]], [16, 'triggered', [7]]]],
    ['an event exactly at the timeout starts a new batch', fc, [...events(0, 10), tick(20)], [[10, 'triggered', [1]], [20, 'triggered', [2]]]],
    ['out-of-order events are handed over in event time order', fc, [...events(5, 1), tick(15)], [[15, 'triggered', [2, 1]]]],
    ['a burst then silence: full batches, then one partial at the timeout', { batch: { max_size: 2, timeout: 5 } }, [...events(0, 0, 0), tick(5)], [[0, 'triggered', [1, 2]], [5, 'triggered', [3]]]],
  ];
  for (const [name, config, steps, expected] of cases) it(name, () => assert.deepEqual(run(config, steps).releases, expected));

  it('the timer follows the batch: set at first + timeout, dropped when released', () => {
    assert.deepEqual(run(fc, [...events(0, 1, 2)]).timers, [10, 10, null]);
  });
});

describe('flow control: validation', () => {
  const base = { name: 'x', trigger: { type: 'event', expect: ['order.created'] }, actions: [{ type: 'do-nothing' }] };
  const cases: [string, unknown, string, RegExp][] = [
    ['period 0', { debounce: { period: 0 } }, 'flow_control.debounce.period', /more than 0/],
    ['limit below 1', { throttle: { limit: 0, period: 1 } }, 'flow_control.throttle.limit', /at least 1/],
    ['rate limit below 1', { rate_limit: { limit: 0.5, period: 1 } }, 'flow_control.rate_limit.limit', /int|at least 1/],
    ['batch timeout 0', { batch: { max_size: 2, timeout: 0 } }, 'flow_control.batch.timeout', /more than 0/],
    ['a key template that does not parse', { batch: { max_size: 2, timeout: 1, key: '{{ event.resource.customer' } }, 'flow_control.batch.key', /template error/],
    ['a key template with an unknown filter', { debounce: { period: 1, key: '{{ event.id | nosuchfilter }}' } }, 'flow_control.debounce.key', /template error/],
    ['a key template with tags', { debounce: { period: 1, key: '{% for i in (1..9) %}{{ i }}{% endfor %}' } }, 'flow_control.debounce.key', /tags/],
    ['a json-logic key with an unknown operator', { rate_limit: { limit: 1, period: 1, key: { log: 1 } } }, 'flow_control.rate_limit.key', /unknown json-logic operator/],
    ['a batch larger than the hard maximum', { batch: { max_size: 10_001, timeout: 1 } }, 'flow_control.batch.max_size', /at most 10000/],
    ['two modes at once', { batch: { max_size: 2, timeout: 1 }, rate_limit: { limit: 1, period: 1 } }, 'flow_control', /exactly one/],
    ['burst above limit', { throttle: { limit: 2, period: 1, burst: 3 } }, 'flow_control.throttle.burst', /may not exceed/],
    ['max_delay below period', { debounce: { period: 10, max_delay: 5 } }, 'flow_control.debounce.max_delay', /at least period/],
  ];
  for (const [name, flow_control, path, message] of cases) {
    it(`${name} is refused at ${path}`, () => {
      assert.throws(
        () => validateAutomation({ ...base, flow_control }),
        (err: { issues?: { path: string; message: string }[] }) => {
          const issue = err.issues?.find((i) => i.path === path);
          assert.ok(issue, `no issue at ${path}: ${JSON.stringify(err.issues)}`);
          assert.match(issue.message, message);
          return true;
        },
      );
    });
  }

  it('a batch larger than REFLEX_FLOW_CONTROL_MAX_BATCH is refused at its field', () => {
    const doc = { ...base, flow_control: { batch: { max_size: 600, timeout: 1 } } };
    assert.ok(validateAutomation(doc, 'automation', {}));
    assert.throws(() => validateAutomation(doc, 'automation', { maxBatch: 500 }), /flow_control\.batch\.max_size: at most 500/);
  });

  it('defaults are filled in', () => {
    const doc = validateAutomation({ ...base, flow_control: { debounce: { period: 5 } } });
    assert.deepEqual(doc.flow_control, { debounce: { period: 5, mode: 'trailing', max_events: 100 } });
  });
});

describe('flow control through the evaluator (dry run)', () => {
  const T = (s: number) => new Date(T0 + s * 1000).toISOString();
  async function dry(flow_control: unknown, evs: ReflexEvent[], untilSeconds: number, actions: unknown[] = [{ type: 'do-nothing' }]) {
    const doc = validateAutomation({ name: 'x', trigger: { type: 'event', expect: ['order.created'] }, actions, flow_control });
    return dryRun(doc, evs, { until: T0 + untilSeconds * 1000, maxPayloadBytes: 1e6 });
  }

  it('a batch per key hands the run every event as a parameter', async () => {
    const evs = [ev(0, { customer: 'a' }), ev(1, { customer: 'b' }), ev(2, { customer: 'a' }), ev(3, { customer: 'a' })];
    const r = await dry({ batch: { key: '{{ event.resource.customer }}', max_size: 3, timeout: 60 } }, evs, 100, [
      { type: 'run-deployment', deployment_name: 'f/d', parameters: { events: '{{ events }}', count: '{{ events | size }}' } },
    ]);
    assert.equal(r.firings.length, 2);
    const [a, b] = r.firings;
    assert.equal(a.flow_control?.key, 'a');
    assert.equal(a.fired_at, T(3));
    assert.deepEqual(a.events?.map((e) => e.id), [evs[0].id, evs[2].id, evs[3].id]);
    const params = (a.actions[0].rendered?.command as { parameters: { events: ReflexEvent[]; count: number } }).parameters;
    assert.deepEqual(params.events.map((e) => e.id), [evs[0].id, evs[2].id, evs[3].id]);
    assert.equal(params.count, 3);
    assert.equal(b.flow_control?.key, 'b');
    assert.equal(b.fired_at, T(61), 'b waited for its timeout');
    assert.deepEqual(r.flow_control.map((d) => [d.event_id, d.key, d.decision]), evs.map((e, i) => [e.id, i === 1 ? 'b' : 'a', 'batched']));
  });

  it('the dry run shows what was debounced and what rate limiting dropped, and why', async () => {
    const deb = await dry({ debounce: { period: 10 } }, [ev(0), ev(4)], 30);
    assert.equal(deb.firings.length, 1);
    assert.equal(deb.firings[0].count, 2);
    assert.deepEqual(deb.flow_control.map((d) => d.decision), ['debounced', 'debounced']);
    assert.match(deb.flow_control[1].reason, /extended/);
    assert.equal(deb.flow_control[1].due, T(14));

    const rl = await dry({ rate_limit: { limit: 1, period: 60, key: { var: 'event.resource.customer' } } }, [ev(0, { customer: 'a' }), ev(1, { customer: 'a' }), ev(2, { customer: 'b' })], 30);
    assert.deepEqual(rl.firings.map((f) => [f.state, f.actions.length]), [['triggered', 1], ['rate-limited', 0], ['triggered', 1]]);
    assert.deepEqual(rl.flow_control.map((d) => [d.key, d.decision]), [['a', 'released'], ['a', 'dropped'], ['b', 'released']]);
    assert.match(rl.flow_control[1].reason, /rate limit/);
  });

  it('a counting trigger finds the flow state an earlier batch left (the key is learnt from the firing)', async () => {
    const doc = validateAutomation({
      name: 'x',
      trigger: { type: 'event', expect: ['order.created'], threshold: 2, within: 60 },
      actions: [{ type: 'do-nothing' }],
      flow_control: { batch: { max_size: 2, timeout: 3600 } },
    });
    const r = await dryRun(doc, [ev(0), ev(1), ev(70), ev(71)], { until: T0 + 100_000, maxPayloadBytes: 1e6 });
    assert.equal(r.firings.length, 1);
    assert.equal(r.firings[0].count, 2);
    assert.equal(r.firings[0].flow_control?.reason, 'max_size (2)');
  });

  it('throttled actions come out at their slots in the dry run', async () => {
    const r = await dry({ throttle: { limit: 1, period: 10 } }, [ev(0), ev(0), ev(0)], 100);
    assert.deepEqual(r.firings.map((f) => f.fired_at), [T(0), T(10), T(20)]);
    assert.deepEqual(r.flow_control.map((d) => d.decision), ['released', 'throttled', 'throttled']);
  });
});

describe('flow control: hostile input', () => {
  it('a window of huge events is released at the size bound, losing none', () => {
    const fp = compileFlowControl(FlowControlSchema.parse({ debounce: { period: 10, max_events: 10_000 } }))!;
    let state: FlowState | undefined;
    const released: Firing[] = [];
    const big = 'x'.repeat(300 * 1024);
    const sent: string[] = [];
    for (let i = 0; i < 40; i++) {
      const e = { ...ev(i * 0.01), payload: { big } };
      sent.push(e.id);
      const r = gateFiring(fp, '', state, firingOf(e), T0 + i * 10, T0 + i * 10);
      state = r.state;
      released.push(...r.released);
      assert.ok(JSON.stringify(state).length < MAX_HELD_BYTES + 400 * 1024, 'state stays bounded');
    }
    released.push(...tickFlow(fp, '', state!, T0 + 60_000).released);
    assert.ok(released.length >= 3, `${released.length} windows`);
    assert.ok(released.slice(0, -1).every((f) => /size limit/.test(f.flow_control!.reason)));
    assert.deepEqual(released.flatMap((f) => f.flow_control!.event_ids!), sent);
  });

  it('a throttle queue of huge events refuses the excess, recorded', () => {
    const fp = compileFlowControl(FlowControlSchema.parse({ throttle: { limit: 1, period: 3600 } }))!;
    let state: FlowState | undefined;
    const out: Firing[] = [];
    for (let i = 0; i < 30; i++) {
      const r = gateFiring(fp, '', state, firingOf({ ...ev(0), payload: { big: 'y'.repeat(300 * 1024) } }), T0, T0);
      state = r.state;
      out.push(...r.released);
    }
    assert.ok(JSON.stringify(state).length < MAX_HELD_BYTES + 400 * 1024);
    const dropped = out.filter((f) => f.state === 'rate-limited');
    assert.ok(dropped.length > 0 && dropped.every((f) => /throttle queue full/.test(f.flow_control!.reason)));
  });

  it('keys are bounded and cannot break the state key grammar', () => {
    const fp = compileFlowControl(FlowControlSchema.parse({ rate_limit: { limit: 1, period: 1, key: '{{ event.payload.k }}' } }))!;
    assert.equal(fp.keyOf({ ...ev(0), payload: { k: 'plain' } }), 'plain');
    assert.match(fp.keyOf({ ...ev(0), payload: { k: 'a|b' } }), /^#[0-9a-f]{16}$/);
    assert.match(fp.keyOf({ ...ev(0), payload: { k: 'z'.repeat(100_000) } }), /^#[0-9a-f]{16}$/);
    assert.equal(fp.keyOf(null), '');
    const jl = compileFlowControl(FlowControlSchema.parse({ rate_limit: { limit: 1, period: 1, key: { var: 'event.payload.o' } } }))!;
    assert.equal(jl.keyOf({ ...ev(0), payload: { o: { a: 1 } } }), '{"a":1}');
  });
});
