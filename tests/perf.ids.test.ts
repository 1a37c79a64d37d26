import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { describe, it } from 'node:test';
import { deterministicUuid, isUuid, newId, sha256Hex } from '../core/ids.ts';
import { firingKey } from '../modules/automations/engine/firing.ts';

// Derived ids are stored (firing keys in Redis and Postgres, delivery and event ids): a faster digest must
// give exactly the digests the earlier code gave, or a firing dispatched again after an upgrade would not
// find its own rows.
describe('ids: digests and derived ids', () => {
  it('sha256Hex is SHA-256 in hex, as createHash gives it', () => {
    assert.equal(sha256Hex('abc'), 'ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad');
    for (const text of ['', 'é\u0000😀', 'lone \ud800 and \udc00 surrogates', 'x'.repeat(10_000)]) assert.equal(sha256Hex(text), createHash('sha256').update(text).digest('hex'));
  });

  it('derived ids and firing keys are the values the earlier code stored', () => {
    // Computed with createHash('sha256') before sha256Hex replaced it.
    assert.equal(deterministicUuid('reflex/firing/abc'), '9fbc4b73-38b7-8866-8ee5-dda10cd7854b');
    assert.equal(firingKey(['a', 'b']), '59b271ae1bbcb1d31d41929817f4b16fb439eb4f31520b5ad1d5ce98920a7138');
  });

  it('new ids are distinct, time-ordered UUIDv7s', () => {
    const ids = Array.from({ length: 2000 }, () => newId());
    assert.equal(new Set(ids).size, ids.length);
    assert.ok(ids.every((id) => isUuid(id) && id[14] === '7'));
    assert.deepEqual([...ids].sort(), ids);
  });
});
