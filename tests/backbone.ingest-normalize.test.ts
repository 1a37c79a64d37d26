import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { normalizeEncodedEvents, normalizeEvents, quickEventInput } from '../core/events.ts';
import { ValidationError } from '../core/errors.ts';
import { EventInputSchema } from '../schemas/event.ts';

/**
 * Ingest reads the common well-formed event without zod (quickEventInput). It must accept only what
 * EventInputSchema accepts, and answer exactly what zod would; everything else goes to zod, which words
 * the 400s as before. These inputs sit on every bound of the schema, on each side.
 */
const ok = { event: 'order.created', resource: { 'reflex.resource.id': 'order.1' } };
const uuid = '0190a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5b';
const labels = (n: number) => Object.fromEntries([['reflex.resource.id', 'r'], ...Array.from({ length: n - 1 }, (_, i) => [`l${i}`, 'v'])]);
const related = (n: number) => Array.from({ length: n }, (_, i) => ({ 'reflex.resource.id': `c${i}`, 'reflex.resource.role': 'customer' }));
const nullProto = Object.assign(Object.create(null) as Record<string, unknown>, ok);
class Custom {
  event = 'order.created';
  resource = { 'reflex.resource.id': 'r' };
}

const cases: Array<[string, unknown]> = [
  ['minimal', ok],
  ['full', { ...ok, id: uuid, occurred: '2026-01-02T03:04:05.678Z', related: related(2), payload: { a: 1, b: [1, { c: null }], s: 'x' }, follows: uuid }],
  ['upper-case ids', { ...ok, id: uuid.toUpperCase(), follows: uuid.toUpperCase() }],
  ['follows null', { ...ok, follows: null }],
  ['explicit undefined fields', { ...ok, id: undefined, occurred: undefined, related: undefined, payload: undefined, follows: undefined }],
  ['offset time', { ...ok, occurred: '2026-01-02T03:04:05+02:00' }],
  ['time without offset', { ...ok, occurred: '2026-01-02T03:04:05' }],
  ['date only', { ...ok, occurred: '2026-01-02' }],
  ['occurred a number', { ...ok, occurred: 1 }],
  ['bad uuid', { ...ok, id: 'not-a-uuid' }],
  ['nil uuid', { ...ok, id: '00000000-0000-0000-0000-000000000000' }],
  ['uuid of no version', { ...ok, id: '0190a1b2-c3d4-0e5f-8a9b-0c1d2e3f4a5b' }],
  ['id a number', { ...ok, id: 1 }],
  ['bad follows', { ...ok, follows: '123' }],
  ['name of 256', { ...ok, event: `a${'.b'.repeat(127)}a` }],
  ['name of 257', { ...ok, event: `a${'.b'.repeat(128)}` }],
  ['empty name', { ...ok, event: '' }],
  ['name with a space', { ...ok, event: 'order created' }],
  ['name with a wildcard', { ...ok, event: 'order.*' }],
  ['empty name part', { ...ok, event: 'order..created' }],
  ['name a number', { ...ok, event: 5 }],
  ['no name', { resource: ok.resource }],
  ['no resource', { event: 'a' }],
  ['resource without id', { ...ok, resource: { region: 'eu' } }],
  ['empty resource id', { ...ok, resource: { 'reflex.resource.id': '' } }],
  ['resource id a number', { ...ok, resource: { 'reflex.resource.id': 1 } }],
  ['non-string label', { ...ok, resource: { 'reflex.resource.id': 'r', n: 1 } }],
  ['64 labels', { ...ok, resource: labels(64) }],
  ['65 labels', { ...ok, resource: labels(65) }],
  ['empty label name', { ...ok, resource: { 'reflex.resource.id': 'r', '': 'v' } }],
  ['label name of 256', { ...ok, resource: { 'reflex.resource.id': 'r', ['k'.repeat(256)]: 'v' } }],
  ['label name of 257', { ...ok, resource: { 'reflex.resource.id': 'r', ['k'.repeat(257)]: 'v' } }],
  ['label value of 4096', { ...ok, resource: { 'reflex.resource.id': 'r', k: 'v'.repeat(4096) } }],
  ['label value of 4097', { ...ok, resource: { 'reflex.resource.id': 'r', k: 'v'.repeat(4097) } }],
  ['resource an array', { ...ok, resource: ['r'] }],
  ['resource null', { ...ok, resource: null }],
  ['__proto__ label', { ...ok, resource: JSON.parse('{"reflex.resource.id":"r","__proto__":"x"}') }],
  ['128 related', { ...ok, related: related(128) }],
  ['129 related', { ...ok, related: related(129) }],
  ['related without role', { ...ok, related: [{ 'reflex.resource.id': 'x' }] }],
  ['related with empty role', { ...ok, related: [{ 'reflex.resource.id': 'x', 'reflex.resource.role': '' }] }],
  ['related without id', { ...ok, related: [{ 'reflex.resource.role': 'x' }] }],
  ['related null', { ...ok, related: null }],
  ['related an object', { ...ok, related: {} }],
  ['related with a hole', { ...ok, related: [, ...related(1)] }], // eslint-disable-line no-sparse-arrays
  ['payload an array', { ...ok, payload: [1, 2] }],
  ['payload a string', { ...ok, payload: 'hello' }],
  ['payload null', { ...ok, payload: null }],
  ['payload empty', { ...ok, payload: {} }],
  ['__proto__ payload key', { ...ok, payload: JSON.parse('{"a":1,"__proto__":{"b":2}}') }],
  ['symbol payload key', { ...ok, payload: { a: 1, [Symbol('s')]: 2 } }],
  ['payload of a class', { ...ok, payload: new Custom() }],
  ['payload with a Date', { ...ok, payload: { at: new Date(0) } }],
  ['unknown field', { ...ok, colour: 'red' }],
  ['null-prototype event', nullProto],
  ['event of a class', new Custom()],
  ['a number', 42],
  ['null', null],
  ['an array', [ok]],
  ['a string', 'order.created'],
];

describe('ingest normalisation without zod', () => {
  it('accepts only what EventInputSchema accepts, with the same result, and leaves every other input to it', () => {
    let quick = 0;
    for (const [what, input] of cases) {
      const expected = EventInputSchema.safeParse(input);
      const got = quickEventInput(input);
      if (got === undefined) continue;
      quick += 1;
      assert.ok(expected.success, `${what}: quick accepted what zod refuses (${JSON.stringify(expected.error?.issues)})`);
      assert.deepEqual(got, expected.data, what);
    }
    // The fast path is taken, not bypassed: every ordinary valid case above uses it.
    assert.ok(quick >= 15, `quick path used for ${quick} cases`);
  });

  it('answers invalid events with the same issues as zod alone, by field path', () => {
    for (const [what, input] of cases) {
      // An array is a batch, tested as such in tests/backbone.ingest.test.ts.
      if (Array.isArray(input) || EventInputSchema.safeParse(input).success) continue;
      assert.throws(() => normalizeEvents(input, { maxPayloadBytes: 1 << 20 }), (err) => {
        assert.ok(err instanceof ValidationError, what);
        const zodPaths = EventInputSchema.safeParse(input).error!.issues.map((i) => i.path.map(String));
        assert.ok(err.issues.length >= 1 && err.issues.length === zodPaths.length, `${what}: ${JSON.stringify(err.issues)}`);
        return true;
      });
    }
  });

  it('encodes each event exactly as JSON.stringify does, the text published on the bus', () => {
    const batch = cases.map(([, input]) => input).filter((input) => EventInputSchema.safeParse(input).success);
    const encoded = normalizeEncodedEvents(batch, { maxPayloadBytes: 1 << 20 });
    assert.equal(encoded.length, batch.length);
    for (const { event, json } of encoded) assert.equal(json, JSON.stringify(event));
    assert.ok(encoded.some((e) => e.event.follows) && encoded.some((e) => !('follows' in e.event)), 'with and without follows');
  });
});
