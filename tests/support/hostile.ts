import { randomUUID } from 'node:crypto';
import fc from 'fast-check';

/**
 * fast-check arbitraries for hostile input: values every field of an event or automation document may
 * take, from valid through merely wrong to what broke Reflex before (NUL characters, lone surrogates,
 * years 0 and past 9999, upper-case ids, windows of 1e-9 s, match-alls, deep nesting, looping templates).
 */

/** Strings: ordinary, empty, long, with NUL, lone surrogates, control and non-BMP characters. */
export const hostileString = fc.oneof(
  { weight: 4, arbitrary: fc.string({ maxLength: 20 }) },
  fc.constantFrom('', ' ', '\u0000', 'a\u0000b', '\ud800', 'x\udc00y', '\ud83d\ude00', '\u202e', '%', '%zz', '../..', '*', '>', 'a.b.', '.a'),
  fc.string({ unit: 'binary', maxLength: 8 }),
  fc.nat({ max: 20_000 }).map((n) => 'x'.repeat(n)),
);

/** Numbers: the ordinary and the edges of every bound (zero, negatives, tiny windows, huge ones). */
export const hostileNumber = fc.oneof(
  fc.constantFrom(0, -1, 1e-9, 0.5, 1, 2, 60, 3600, 31 * 24 * 3600, 31 * 24 * 3600 + 1, 1e13, 2 ** 53, -(2 ** 31)),
  fc.integer(),
  fc.double({ noNaN: true, noDefaultInfinity: true }),
);

/** How each kind of nesting opens and closes around its innermost value. */
const NESTINGS = {
  arrays: { open: '[', close: ']', inner: '1' },
  objects: { open: '{"a":', close: '}', inner: '1' },
  negations: { open: '{"!":[', close: ']}', inner: '{"var":"event.event"}' },
} as const;
type Nesting = keyof typeof NESTINGS;

/**
 * A value nested `depth` levels deep. V8's JSON.stringify (and fast-check's reports) overflow the stack
 * near 5,000 levels, so the value serialises as a marker that `toJsonText` replaces with the nested text.
 */
class Nested {
  constructor(
    readonly depth: number,
    readonly kind: Nesting,
  ) {}
  toJSON(): string {
    return `__nested:${this.kind}:${this.depth}__`;
  }
  [fc.toStringMethod](): string {
    return `nested(${this.depth} ${this.kind})`;
  }
}

/** JSON text of a generated value, with every nested value written out. */
export function toJsonText(value: unknown): string {
  return JSON.stringify(value).replace(/"__nested:(arrays|objects|negations):(\d+)__"/g, (_, kind: Nesting, depth: string) => {
    const n = NESTINGS[kind];
    return n.open.repeat(Number(depth)) + n.inner + n.close.repeat(Number(depth));
  });
}

const deep = fc
  .tuple(fc.constantFrom(10, 63, 64, 65, 200, 5_000), fc.boolean())
  .map(([d, inObject]) => new Nested(d, inObject ? 'objects' : 'arrays'));

/** Any JSON value, sometimes with hostile strings, deep nesting or a large size. */
export const hostileJson: fc.Arbitrary<unknown> = fc.oneof(
  { weight: 4, arbitrary: fc.jsonValue({ maxDepth: 3 }) },
  hostileString,
  hostileNumber,
  deep,
  fc.dictionary(hostileString, hostileString, { maxKeys: 4 }),
);

export const eventName = fc.oneof(
  { weight: 6, arbitrary: fc.constantFrom('fz.order.created', 'fz.order.paid', 'fz.x', 'reflex.flow-run.Completed', 'reflex.automation.triggered') },
  fc.constantFrom('', 'has space', 'a..b', 'a.*', '>', 'x'.repeat(300), 'ünï', 'a\u0000b'),
  hostileString,
);

/** Occurred times: ordinary, the edges PostgreSQL cannot hold, offsets, and non-dates. */
export const occurred = fc.oneof(
  { weight: 3, arbitrary: fc.date({ min: new Date('1971-01-01'), max: new Date('2100-01-01'), noInvalidDate: true }).map((d) => d.toISOString()) },
  fc.constantFrom('0000-01-01T00:00:00Z', '0001-01-01T00:00:00Z', '9999-12-31T23:59:59Z', '9999-12-31T23:59:59-01:00', '+010000-01-01T00:00:00Z', '2024-02-30T00:00:00Z', '2024-01-01', 'yesterday', ''),
);

/** Labels: valid resource ids, missing ones, too many, too long, hostile names and values. */
const labels = fc.oneof(
  { weight: 4, arbitrary: fc.record({ 'reflex.resource.id': fc.constantFrom('fz.thing', 'fz.other'), region: fc.constantFrom('eu', 'us') }) },
  fc.dictionary(hostileString, hostileString, { maxKeys: 5 }),
  fc.constantFrom({}, { 'reflex.resource.id': '' }, { 'reflex.resource.id': 1 }),
  fc.nat({ max: 100 }).map((n) => Object.fromEntries([['reflex.resource.id', 'fz.many'], ...Array.from({ length: n }, (_, i) => [`l${i}`, 'v'])])),
  fc.constant({ 'reflex.resource.id': 'fz.big', big: 'x'.repeat(5000) }),
);

export type IdKind = 'none' | 'lower' | 'upper' | 'bad';

/** An event as a client means to send it: every field valid, ids fresh (so a ledger can follow them). */
const plausibleEvent = fc.record(
  {
    idKind: fc.constantFrom<IdKind>('none', 'lower', 'lower', 'upper'),
    event: fc.constantFrom('fz.order.created', 'fz.order.paid', 'fz.x', 'reflex.flow-run.Completed'),
    occurred: fc.date({ min: new Date('1971-01-01'), max: new Date('2100-01-01'), noInvalidDate: true }).map((d) => d.toISOString()),
    resource: fc.record({ 'reflex.resource.id': fc.constantFrom('fz.thing', 'fz.other'), region: fc.constantFrom('eu', 'us') }),
    related: fc.array(fc.record({ 'reflex.resource.id': fc.constantFrom('fz.a', 'fz.b'), 'reflex.resource.role': fc.constant('fz') }), { maxLength: 2 }),
    payload: fc.dictionary(fc.string({ maxLength: 6 }), fc.jsonValue({ maxDepth: 2 }), { maxKeys: 4 }),
  },
  { requiredKeys: ['idKind', 'event', 'resource'] },
);

/** The field a hostile event spoils, and with what. */
const spoil = fc.oneof(
  eventName.map((v) => ['event', v] as const),
  occurred.map((v) => ['occurred', v] as const),
  labels.map((v) => ['resource', v] as const),
  fc.array(labels, { maxLength: 3 }).map((v) => ['related', v] as const),
  fc.oneof(fc.dictionary(fc.string({ maxLength: 6 }), hostileJson, { maxKeys: 4 }), hostileJson).map((v) => ['payload', v] as const),
  fc.constantFrom(['id', 'bad'], ['colour', 'x'], ['follows', 'not-a-uuid'], ['ID', 'x']).map((v) => v as readonly [string, unknown]),
);

/** One event: mostly plausible, sometimes with one field spoilt, with the id it carries (if any). */
export const hostileEvent = fc
  .tuple(plausibleEvent, fc.oneof({ weight: 5, arbitrary: fc.constant(null) }, spoil))
  .map(([{ idKind, ...rest }, spoilt]) => {
    const id = randomUUID();
    const body: Record<string, unknown> = { ...rest };
    for (const k of Object.keys(body)) if (body[k] === undefined) delete body[k];
    let kind = idKind;
    if (spoilt?.[0] === 'id') kind = 'bad';
    else if (spoilt) body[spoilt[0]] = spoilt[1];
    if (kind === 'lower') body.id = id;
    if (kind === 'upper') body.id = id.toUpperCase();
    if (kind === 'bad') body.id = `${id}x`;
    return { body, id: kind === 'lower' || kind === 'upper' ? id : undefined };
  });

/** Header-safe text (what fetch lets through), with the escapes and odd spellings binary mode decodes. */
const headerText = fc.oneof(
  fc.string({ unit: fc.integer({ min: 0x20, max: 0x7e }).map((c) => String.fromCharCode(c)), maxLength: 30 }),
  fc.constantFrom('%', '%zz', '%00', '%ED%A0%80', '%F0%9F%98%80', 'fz.order.created', '1.0', '2.0', ''),
);

/** A CloudEvent, structured (one or a batch) or in binary mode, with hostile attributes. */
const cloudEvent = fc.record(
  {
    specversion: fc.constantFrom('1.0', '1.0', '0.3', 1),
    id: fc.oneof(fc.uuid(), hostileString),
    source: fc.oneof(fc.constantFrom('fz/source', 'https://example.com/x'), hostileString),
    type: eventName,
    subject: hostileString,
    time: occurred,
    data: hostileJson,
    data_base64: fc.constantFrom('AAEC', '!!!', ''),
    extension: hostileString,
  },
  { requiredKeys: ['specversion', 'id', 'source', 'type'] },
);

const binaryCloudEvent = fc.record(
  {
    headers: fc.record(
      { 'ce-specversion': fc.constantFrom('1.0', '1.0', '9'), 'ce-id': headerText, 'ce-source': headerText, 'ce-type': headerText, 'ce-time': headerText, 'ce-subject': headerText, 'ce-ext': headerText },
      { requiredKeys: ['ce-specversion'] },
    ),
    contentType: fc.constantFrom('application/json', 'text/plain', 'application/octet-stream'),
    body: fc.oneof(hostileJson.map((j) => toJsonText(j)), fc.string({ maxLength: 30 })),
  },
);

/** A whole ingest request: a batch, one event, a CloudEvent, or a body that is not a batch at all. */
export const ingestRequest = fc.oneof(
  fc.oneof(cloudEvent.map((ce) => ({ ce, batch: false })), fc.array(cloudEvent, { maxLength: 4 }).map((ce) => ({ ce, batch: true }))).map(({ ce, batch }) => ({
    kind: 'cloudevents' as const,
    contentType: batch ? 'application/cloudevents-batch+json' : 'application/cloudevents+json',
    body: toJsonText(ce),
    headers: {} as Record<string, string>,
  })),
  binaryCloudEvent.map((b) => ({ kind: 'cloudevents' as const, contentType: b.contentType, body: b.body, headers: b.headers as Record<string, string> })),
  { weight: 6, arbitrary: fc.array(hostileEvent, { minLength: 1, maxLength: 6 }).map((events) => ({ kind: 'batch' as const, events })) },
  { weight: 2, arbitrary: hostileEvent.map((e) => ({ kind: 'single' as const, events: [e] })) },
  fc.oneof(fc.constantFrom('[', '{"event":', '[]', 'null', '"x"', '[1,2]', '{}', '\u0000'), fc.string({ maxLength: 40 })).map((raw) => ({ kind: 'raw' as const, raw })),
  hostileJson.map((json) => ({ kind: 'json' as const, json })),
);

/** Templates: plain strings, ordinary Liquid, and the unparsable, forbidden and looping kinds. */
export const template = fc.oneof(
  hostileString,
  fc.constantFrom(
    '{{ event.payload.total }}',
    '{{ event.payload | json }}',
    'order {{ event.resource["reflex.resource.id"] }}',
    '{{',
    '{% if %}',
    '{{ x | no_such_filter }}',
    '{% include "secrets" %}',
    '{% for a in (1..3000) %}{% for b in (1..3000) %}{% endfor %}{% endfor %}',
    '{% for a in (1..100000000) %}x{% endfor %}',
  ),
);

const jsonLogic = fc.oneof(
  fc.constant({ '==': [{ var: 'event.payload.total' }, 1] }),
  fc.constant({ '>': [{ var: 'event.payload.total' }, 10] }),
  fc.constantFrom(10, 100, 5_000).map((d) => new Nested(d, 'negations')),
  fc.dictionary(fc.constantFrom('==', 'var', 'some', 'map', 'bogus', 'in'), hostileJson, { maxKeys: 2 }),
);

const expectList = fc.array(fc.oneof(eventName, fc.constantFrom('*', '**', '!fz.x', 'fz.*')), { maxLength: 3 });

/** A trigger tree: event, compound and sequence triggers with hostile fields, or any JSON. */
export const trigger: fc.Arbitrary<unknown> = fc.letrec<{ trigger: unknown }>((tie) => ({
  trigger: fc.oneof(
    { depthSize: 'small', withCrossShrink: true },
    {
      weight: 4,
      arbitrary: fc.record(
        {
          type: fc.constantFrom('event', 'event', 'bogus'),
          expect: expectList,
          after: expectList,
          match: fc.oneof(labels, fc.constant({ 'reflex.resource.id': '*' })),
          for_each: fc.array(fc.constantFrom('reflex.resource.id', 'region', ''), { maxLength: 2 }),
          posture: fc.constantFrom('Reactive', 'Proactive', 'Metric', 'sideways'),
          threshold: hostileNumber,
          within: hostileNumber,
          condition: jsonLogic,
        },
        { requiredKeys: ['type'] },
      ),
    },
    fc.record(
      { type: fc.constantFrom('compound', 'sequence'), require: fc.oneof(fc.constantFrom('all', 'any'), hostileNumber), triggers: fc.array(tie('trigger'), { maxLength: 3 }), within: hostileNumber },
      { requiredKeys: ['type', 'triggers'] },
    ),
    hostileJson,
  ),
})).trigger;

export const action: fc.Arbitrary<unknown> = fc.oneof(
  fc.constant({ type: 'do-nothing' }),
  fc.record({ type: fc.constant('call-webhook'), url: fc.oneof(template, fc.constantFrom('http://127.0.0.1:1/x', 'ftp://x', 'http://user:pw@example.com/')), body: template, secret: fc.option(hostileString, { nil: undefined }) }, { requiredKeys: ['type', 'url'] }),
  fc.record({ type: fc.constant('emit-event'), event: fc.record({ event: fc.oneof(template, eventName), resource: labels, payload: fc.dictionary(fc.string({ maxLength: 4 }), template, { maxKeys: 2 }) }) }),
  fc.record({ type: fc.constant('run-deployment'), deployment_id: fc.oneof(fc.uuid(), hostileString), parameters: fc.dictionary(fc.string({ maxLength: 4 }), template, { maxKeys: 2 }) }),
  hostileJson,
);

/** Triggers a user would write (valid names, small counts, windows of seconds), so saves succeed too. */
const plausibleTrigger: fc.Arbitrary<unknown> = fc.letrec<{ trigger: unknown }>((tie) => ({
  trigger: fc.oneof(
    { depthSize: 'small', withCrossShrink: true },
    {
      weight: 3,
      arbitrary: fc.record(
        {
          type: fc.constant('event'),
          expect: fc.array(fc.constantFrom('fz.order.created', 'fz.order.paid', 'fz.order.*'), { minLength: 1, maxLength: 2 }),
          after: fc.array(fc.constantFrom('fz.order.created', 'fz.x'), { maxLength: 1 }),
          match: fc.constantFrom({}, { region: 'eu' }, { 'reflex.resource.id': 'fz.*' }),
          for_each: fc.constantFrom([], ['reflex.resource.id'], ['region']),
          posture: fc.constantFrom('Reactive', 'Proactive'),
          threshold: fc.integer({ min: 1, max: 3 }),
          within: fc.constantFrom(1, 10, 3600),
          condition: fc.constantFrom({ '>=': [{ var: 'event.payload.total' }, 1] }, { '==': [1, 1] }),
        },
        { requiredKeys: ['type', 'expect'] },
      ),
    },
    fc.record({ type: fc.constant('compound'), require: fc.constantFrom('all', 'any', 1), triggers: fc.array(tie('trigger'), { minLength: 1, maxLength: 3 }), within: fc.constantFrom(0, 10, 3600) }),
    fc.record({ type: fc.constant('sequence'), triggers: fc.array(tie('trigger'), { minLength: 1, maxLength: 3 }), within: fc.constantFrom(0, 10, 3600) }),
  ),
})).trigger;

const plausibleAction = fc.oneof(
  fc.constant({ type: 'do-nothing' }),
  fc.record({ type: fc.constant('emit-event'), event: fc.record({ event: fc.constantFrom('fz.out', '{{ event.event }}.out'), resource: fc.constant({ 'reflex.resource.id': 'fz.out' }), payload: fc.dictionary(fc.constantFrom('a', 'b'), template, { maxKeys: 2 }) }) }),
  fc.record({ type: fc.constant('call-webhook'), url: fc.constant('http://127.0.0.1:1/hook'), body: template }),
);

/** A plausible document, sometimes with one field replaced by something hostile. */
const plausibleDoc = fc
  .tuple(
    fc.record({ name: fc.constant('fz'), trigger: plausibleTrigger, actions: fc.array(plausibleAction, { minLength: 1, maxLength: 3 }) }),
    fc.oneof({ weight: 2, arbitrary: fc.constant(null) }, fc.tuple(fc.constantFrom('name', 'trigger', 'actions', 'description', 'enabled', 'tags', 'bogus'), hostileJson)),
  )
  .map(([doc, mutation]) => (mutation ? { ...doc, [mutation[0]]: mutation[1] } : doc));

/** An automation document: plausible, or with its name, trigger and actions each possibly hostile or missing. */
export const automationDoc = fc.oneof(plausibleDoc, hostileDoc());

function hostileDoc() {
  return fc.record(
  {
    name: fc.oneof({ weight: 4, arbitrary: fc.constant('fz') }, hostileString),
    description: hostileString,
    enabled: fc.oneof(fc.boolean(), hostileJson),
    trigger,
    actions: fc.oneof({ weight: 4, arbitrary: fc.array(action, { maxLength: 3 }) }, hostileJson),
    tags: fc.array(hostileString, { maxLength: 2 }),
  },
  { requiredKeys: ['name', 'trigger', 'actions'] },
  );
}
