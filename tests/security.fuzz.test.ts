import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import fc from 'fast-check';
import { startTestEngine, waitFor, type TestEngine } from './support/harness.ts';
import { automationDoc, ingestRequest, toJsonText } from './support/hostile.ts';

/**
 * Property-based attack on the ingest and automation endpoints (fast-check): whatever the request, the
 * answer is never a 5xx, an accepted event is stored exactly once and a refused batch stores nothing, and
 * the engine keeps answering. `FUZZ_RUNS` runs more cases (default 150 per property); a failure prints the
 * seed and the shrunk request, and `FUZZ_SEED` replays it.
 */

const RUNS = Number(process.env.FUZZ_RUNS ?? 150);
const SEED = process.env.FUZZ_SEED ? Number(process.env.FUZZ_SEED) : undefined;
const params = { numRuns: RUNS, ...(SEED !== undefined ? { seed: SEED } : {}), endOnFailure: true };

/** Runs a property; a failure says what went wrong, the (shortened) request and how to replay it. */
async function check<T>(property: fc.IAsyncProperty<T>): Promise<void> {
  const run = await fc.check(property, params);
  if (!run.failed) return;
  const error = run.errorInstance instanceof Error ? run.errorInstance.message : String(run.errorInstance);
  const example = fc.stringify(run.counterexample);
  throw new Error(
    `${error}\n  request: ${example.length > 3000 ? `${example.slice(0, 3000)}… (${example.length} characters)` : example}\n` +
      `  replay: FUZZ_SEED=${run.seed} (path ${run.counterexamplePath}) after ${run.numRuns} runs`,
  );
}

describe('fuzzed ingest and automation requests', () => {
  let t: TestEngine;
  before(async () => {
    t = await startTestEngine({ services: ['api', 'recorder', 'automations'] });
  });
  after(async () => {
    await t?.cleanup();
  });

  /** The engine answers health within 5 s. */
  const responsive = async () => {
    const res = await fetch(`${t.url}/api/health`, { signal: AbortSignal.timeout(5000) });
    assert.equal(res.status, 200, 'health answers');
  };

  const post = async (path: string, body: string, method = 'POST', headers: Record<string, string> = { 'content-type': 'application/json' }) => {
    const res = await fetch(`${t.url}${path}`, { method, body, headers, signal: AbortSignal.timeout(20_000) });
    const text = await res.text();
    let json: any;
    try {
      json = JSON.parse(text);
    } catch {
      json = text;
    }
    return { status: res.status, body: json };
  };

  /** A 4xx carries the error envelope with a code (and, where there are issues, a path for each). */
  const assertClientError = (status: number, body: any, what: string) => {
    assert.ok(status < 500, `${what}: answered ${status} ${JSON.stringify(body).slice(0, 500)}`);
    if (status >= 400) {
      assert.equal(typeof body?.error?.code, 'string', `${what}: ${status} without an error code: ${JSON.stringify(body).slice(0, 300)}`);
      for (const issue of body.error.issues ?? []) assert.equal(typeof issue.path, 'string');
    }
  };

  it('ingest: never a 5xx, a batch accepted or refused whole, every accepted event stored exactly once', async (ctx) => {
    const accepted = new Set<string>();
    const refused = new Set<string>();
    await check(
      fc.asyncProperty(ingestRequest, async (req) => {
        if (req.kind === 'cloudevents') {
          const res = await post('/api/events', req.body, 'POST', { ...req.headers, 'content-type': req.contentType });
          assertClientError(res.status, res.body, 'CloudEvents ingest');
          if (res.status === 202) for (const id of res.body.ids) accepted.add(id);
        } else if (req.kind === 'raw' || req.kind === 'json') {
          const res = await post('/api/events', req.kind === 'raw' ? req.raw : toJsonText(req.json));
          assertClientError(res.status, res.body, 'ingest');
          if (res.status === 202) for (const id of res.body.ids) accepted.add(id);
        } else {
          const bodies = req.events.map((e) => e.body);
          const res = await post('/api/events', toJsonText(req.kind === 'single' ? bodies[0] : bodies));
          assertClientError(res.status, res.body, 'ingest');
          if (res.status === 202) {
            assert.equal(res.body.ids.length, req.events.length, 'one id per event');
            req.events.forEach((e, i) => {
              if (e.id) assert.equal(res.body.ids[i], e.id, 'the id sent, lower-cased');
            });
            for (const id of res.body.ids) accepted.add(id);
          } else {
            for (const e of req.events) if (e.id) refused.add(e.id);
          }
        }
        await responsive();
      }),
    );

    ctx.diagnostic(`${accepted.size} events accepted, ${refused.size} with ids refused`);
    assert.ok(accepted.size > 0 && refused.size > 0, 'both kinds were tried');
    const ids = [...accepted];
    const stored = await waitFor(
      async () => {
        const rows = (await t.rt.pg.query<{ id: string; n: number }>('SELECT id::text, count(*)::int AS n FROM events WHERE id = ANY($1::uuid[]) GROUP BY id', [ids])).rows;
        return rows.length === ids.length ? rows : null;
      },
      { timeoutMs: 30_000, what: `all ${ids.length} accepted events to be stored` },
    );
    assert.ok(stored.every((r) => r.n === 1), 'each stored once');
    const leaked = (await t.rt.pg.query('SELECT id FROM events WHERE id = ANY($1::uuid[])', [[...refused]])).rows;
    assert.deepEqual(leaked, [], 'no event of a refused batch is stored');
    const dead = (await t.rt.pg.query<{ n: number }>('SELECT count(*)::int AS n FROM dead_letters')).rows[0].n;
    assert.equal(dead, 0, 'nothing accepted was left for the dead-letter table');
  });

  it('automations: never a 5xx; what is saved reads back; every dry run ends', async (ctx) => {
    const sample = [
      { event: 'fz.order.created', resource: { 'reflex.resource.id': 'fz.thing', region: 'eu' }, payload: { total: 1 } },
      { event: 'fz.order.paid', resource: { 'reflex.resource.id': 'fz.thing', region: 'eu' }, payload: { total: 20 } },
    ];
    let saved = 0;
    let tested = 0;
    await check(
      fc.asyncProperty(automationDoc, fc.constantFrom('save', 'save', 'test', 'test-until'), async (doc, how) => {
        if (how === 'save') {
          const res = await post('/api/automations', toJsonText(doc));
          assertClientError(res.status, res.body, 'save');
          if (res.status === 201) {
            saved++;
            const read = await t.api('GET', `/api/automations/${res.body.id}`);
            assert.equal(read.status, 200);
            assert.equal(read.body.name, res.body.name);
            const replaced = await post(`/api/automations/${res.body.id}`, toJsonText(doc), 'PUT');
            assertClientError(replaced.status, replaced.body, 'replace');
            assert.equal(replaced.status, 200, 'a document saved once can replace itself');
            assert.equal((await t.api('DELETE', `/api/automations/${res.body.id}`)).status, 204);
          }
        } else {
          const until = how === 'test-until' ? new Date(Date.now() + 365 * 24 * 3600 * 1000).toISOString() : undefined;
          const res = await post('/api/automations/test', toJsonText({ automation: doc, events: sample, ...(until ? { until } : {}) }));
          assertClientError(res.status, res.body, 'dry run');
          if (res.status === 200) {
            tested++;
            assert.ok(Array.isArray(res.body.firings));
          }
        }
        await responsive();
      }),
    );
    ctx.diagnostic(`${saved} documents saved, ${tested} dry runs answered`);
    assert.ok(saved > 0 && tested > 0, 'some documents were valid');
  });
});
