import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { uuidv7 } from 'uuidv7';
import { startTestEngine, waitFor, type TestEngine } from './support/harness.ts';

/**
 * Events PostgreSQL cannot store must be refused at ingest with a 400 naming the field, never acknowledged
 * with a 202 and then refused by the recorder forever (each came back every 30 s, and 20,000 of them
 * stopped all storage). What reaches the stream anyway (another publisher) becomes a dead letter.
 */

describe('hostile events', () => {
  let t: TestEngine;
  before(async () => {
    t = await startTestEngine({ services: ['recorder', 'automations', 'api'] });
  });
  after(async () => {
    await t?.cleanup();
  });

  const base = (extra: Record<string, unknown> = {}) => ({ id: uuidv7(), event: 'hostile.check', resource: { 'reflex.resource.id': 'h' }, ...extra });
  const stored = async (ids: string[]) => (await t.rt.pg.query<{ n: number }>('SELECT count(*)::int AS n FROM events WHERE id = ANY($1::uuid[])', [ids])).rows[0].n;
  const post = (body: unknown) => t.api('POST', '/api/events', typeof body === 'string' ? body : JSON.stringify(body), { 'content-type': 'application/json' });

  it('refuses what PostgreSQL cannot hold, with the field path, and stores none of the batch', async () => {
    const cases: Array<{ body: string; path: RegExp }> = [
      { body: JSON.stringify(base({ payload: { note: 'a\u0000b' } })), path: /payload\.note/ },
      { body: JSON.stringify(base({ payload: { ['k\u0000']: 1 } })), path: /payload\.k/ },
      { body: JSON.stringify(base({ resource: { 'reflex.resource.id': 'x\u0000' } })), path: /resource\.reflex\.resource\.id/ },
      { body: JSON.stringify(base({ related: [{ 'reflex.resource.id': 'r', 'reflex.resource.role': 'a\u0000' }] })), path: /related\[0\]/ },
      // A lone surrogate can only be written as an escape in JSON text.
      { body: JSON.stringify(base({ payload: { s: 'LONE' } })).replace('LONE', '\\ud800'), path: /payload\.s/ },
      { body: JSON.stringify(base({ payload: { s: 'LONE' } })).replace('LONE', 'x\\udc00y'), path: /payload\.s/ },
      { body: JSON.stringify(base({ occurred: '0000-01-01T00:00:00Z' })), path: /occurred/ },
      { body: JSON.stringify(base({ occurred: '9999-12-31T23:59:59-01:00' })), path: /occurred/ },
    ];
    for (const c of cases) {
      const good = base();
      const batch = `[${JSON.stringify(good)},${c.body}]`;
      for (const body of [c.body, batch]) {
        const res = await post(body);
        assert.equal(res.status, 400, `${body.slice(0, 120)} -> ${res.status} ${JSON.stringify(res.body)}`);
        assert.equal(res.body.error.code, 'invalid_request');
        assert.ok(res.body.error.issues.some((i: { path: string }) => c.path.test(i.path)), `${JSON.stringify(res.body.error.issues)} names ${c.path}`);
      }
      assert.equal(await stored([good.id]), 0, 'nothing of a refused batch is stored');
    }
  });

  it('refuses a payload nested thousands deep with a 400, not a 500', async () => {
    const deep = '{"a":'.repeat(5000) + '1' + '}'.repeat(5000);
    const res = await post(`{"event":"hostile.deep","resource":{"reflex.resource.id":"d"},"payload":${deep}}`);
    assert.equal(res.status, 400, JSON.stringify(res.body).slice(0, 300));
    assert.match(res.body.error.message, /nests deeper than 64/);
  });

  it('refuses a batch whose one event does not fit a bus message before publishing any of it', async () => {
    const big = base({ related: Array.from({ length: 100 }, (_, i) => ({ 'reflex.resource.id': `r${i}`, 'reflex.resource.role': 'x', blob: 'y'.repeat(4000), b2: 'z'.repeat(4000), b3: 'w'.repeat(4000) })) });
    const small = [base(), base(), base()];
    const res = await post([small[0], small[1], big, small[2]]);
    assert.equal(res.status, 413, JSON.stringify(res.body).slice(0, 300));
    assert.equal(res.body.error.issues[0].path, '[2]');
    // Give a wrongly published event the time to be recorded: the recorder stores an event within ms.
    const probe = base();
    assert.equal((await post(probe)).status, 202);
    await waitFor(async () => (await stored([probe.id])) === 1, { what: 'the probe event to be stored' });
    assert.equal(await stored(small.map((e) => e.id)), 0, 'none of the batch was stored');
  });

  it('treats an upper-case event id as the same event (deduplicated, stored once)', async () => {
    const id = uuidv7();
    const a = await post(base({ id: id.toUpperCase() }));
    const b = await post(base({ id }));
    assert.equal(a.status, 202);
    assert.deepEqual(a.body.ids, [id], 'ids are answered in canonical lower case');
    assert.equal(b.status, 202);
    await waitFor(async () => (await stored([id])) === 1, { what: 'the event to be stored' });
    const dup = await t.rt.bus.jsm.streams.getMessage(t.rt.names.streams.events, { last_by_subj: t.rt.names.eventSubject('hostile.check') });
    assert.equal(dup?.json<{ id: string }>().id, id);
  });

  it('keeps what another publisher put on the stream and no insert can store as a dead letter, and keeps storing', async () => {
    const subject = t.rt.names.eventSubject('hostile.raw');
    const enc = new TextEncoder();
    const bad = Array.from({ length: 300 }, () => ({ id: uuidv7(), occurred: '0000-01-01T00:00:00Z', event: 'hostile.raw', resource: { 'reflex.resource.id': 'raw' } }));
    for (const e of bad) await t.rt.bus.js.publish(subject, enc.encode(JSON.stringify(e)), { msgID: e.id });
    await t.rt.bus.js.publish(subject, enc.encode('not json at all'));
    await t.rt.bus.js.publish(subject, enc.encode(JSON.stringify(base({ payload: { s: 'a\u0000b' } }))));
    // Messages that are not one JSON document each: the recorder inserts many messages in one statement,
    // and none of these may become two events, nor vanish.
    const glued = [base(), base(), base(), base()];
    await t.rt.bus.js.publish(subject, enc.encode(`${JSON.stringify(glued[0])},${JSON.stringify(glued[1])}`));
    await t.rt.bus.js.publish(subject, enc.encode(`${JSON.stringify(glued[2])}\u0001${JSON.stringify(glued[3])}`));
    await t.rt.bus.js.publish(subject, enc.encode(''));
    // The recorder hands Postgres the messages' bytes: text beyond ASCII is stored as it is, and bytes
    // that are not UTF-8 are a dead letter (kept whole), not stored with replacement characters.
    const unicodeNote = 'café ✓ 😀 \u2028';
    const unicode = base({ occurred: new Date().toISOString(), payload: { note: unicodeNote } });
    await t.rt.bus.js.publish(subject, enc.encode(JSON.stringify(unicode)), { msgID: unicode.id });
    const latin1 = base();
    const latin1Bytes = enc.encode(JSON.stringify({ ...latin1, payload: { note: 'XX' } }));
    latin1Bytes.set([0xe9, 0x20], latin1Bytes.indexOf(0x58));
    await t.rt.bus.js.publish(subject, latin1Bytes);
    const good = [base(), base(), base(), base(), base()];
    assert.equal((await post(good)).status, 202);
    await waitFor(async () => (await stored(good.map((e) => e.id))) === 5, { timeoutMs: 15_000, what: 'the valid events to be stored despite the bad ones before them' });

    const letters = await waitFor(
      async () => {
        const page = await t.api('GET', '/api/dead-letters?limit=500');
        return page.body.items.length === 306 ? page.body.items : null;
      },
      { timeoutMs: 15_000, what: '306 dead letters' },
    );
    assert.equal(await stored(glued.map((e) => e.id)), 0, 'no event of a message holding two was stored');
    assert.equal(await stored([latin1.id]), 0, 'a message that is not UTF-8 is not stored');
    const note = await t.rt.pg.query<{ note: string }>(`SELECT payload->>'note' AS note FROM events WHERE id = $1`, [unicode.id]);
    assert.equal(note.rows[0]?.note, unicodeNote);
    assert.ok(letters.some((l: { reason: string }) => /not one JSON document per message: 2 pieces in 1 messages/.test(l.reason)), 'the reason says what was wrong');
    assert.ok(letters.every((l: { consumer: string; reason: string }) => l.consumer === 'recorder' && l.reason.length > 0));
    // Nothing is left pending or comes back: the consumers acknowledged (or terminated) every message.
    for (const durable of [t.rt.names.consumers.recorder, t.rt.names.consumers.automations]) {
      await waitFor(async () => (await t.rt.bus.jsm.consumers.info(t.rt.names.streams.events, durable)).num_ack_pending === 0, { what: `${durable} with nothing pending` });
      assert.equal((await t.rt.bus.jsm.consumers.info(t.rt.names.streams.events, durable)).num_redelivered, 0, `${durable} redelivered nothing`);
    }

    // One of the `bad` events (they all encode to the same length): its data is an event to correct.
    const one = letters.find((l: { subject: string; size_bytes: number }) => l.size_bytes === enc.encode(JSON.stringify(bad[0])).length && l.subject === subject);
    const detail = await t.api('GET', `/api/dead-letters/${one.id}`);
    assert.equal(detail.status, 200);
    assert.ok(Buffer.from(detail.body.data_base64, 'base64').length === one.size_bytes);
    const again = await t.api('POST', `/api/dead-letters/${one.id}/replay`, {});
    assert.equal(again.status, 409, 'the original still cannot be stored');
    assert.match(again.body.error.message, /still cannot be stored/);
    const original = JSON.parse(detail.body.data_text);
    if (original.occurred) {
      const fixed = await t.api('POST', `/api/dead-letters/${one.id}/replay`, { event: { ...original, occurred: '2024-01-01T00:00:00Z' } });
      assert.equal(fixed.status, 200, JSON.stringify(fixed.body));
      assert.equal(await stored([original.id]), 1, 'the corrected event is stored');
      const after = await t.api('GET', `/api/dead-letters/${one.id}`);
      assert.ok(after.body.replayed_at);
      assert.equal(after.body.replay_count, 2);
    }
    assert.equal((await t.api('GET', '/api/dead-letters/not-a-uuid')).status, 400);
    assert.equal((await t.api('GET', '/api/dead-letters?cursor=garbage')).status, 400);
  });
});
