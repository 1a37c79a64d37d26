import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { createLinkArtifact, createMarkdownArtifact, createProgressArtifact, createTableArtifact, updateProgressArtifact } from '../sdk/index.ts';
import type { Artifact } from '../schemas/artifact.ts';
import { reporter } from './support/author-flows.ts';
import { startTestEngine, waitFor, type TestEngine } from './support/harness.ts';

/** Artifacts made by a flow through the SDK, read through the API; bad input refused at the call. */

let t: TestEngine;
before(async () => {
  t = await startTestEngine({ services: ['outbox', 'recorder', 'api', 'worker'], config: { flowsModule: 'tests/support/author-flows.ts' } });
});
after(async () => {
  await t?.cleanup();
});

type Page = { items: Artifact[]; next_cursor: string | null };

describe('artifacts', () => {
  let first: Awaited<ReturnType<typeof reporter>>;
  let runId: string;

  it('a flow creates table, markdown, link and progress artifacts stored with its run and task run', async () => {
    first = await reporter({ version: 1 });
    assert.ok(first.rows && first.columns && first.link && first.markdown && first.progress);
    const rows = (await t.api<Artifact>('GET', `/api/artifacts/${first.rows}`)).body;
    assert.equal(rows.type, 'table');
    assert.deepEqual(rows.data, { rows: [{ region: 'eu', total: 1 }, { region: 'us', total: 2 }], column_order: ['region', 'total'] });
    assert.equal(rows.key, 'orders-by-region');
    assert.ok(rows.flow_run_id);
    assert.equal(rows.task_run_id, null);
    runId = rows.flow_run_id;

    const columns = (await t.api<Artifact>('GET', `/api/artifacts/${first.columns}`)).body;
    assert.deepEqual(columns.data, { columns: { region: ['eu', 'us'], total: [1, 2] }, column_order: ['region', 'total'] });
    const link = (await t.api<Artifact>('GET', `/api/artifacts/${first.link}`)).body;
    assert.deepEqual(link.data, { url: 'https://example.com/report', text: 'the report' });
    const md = (await t.api<Artifact>('GET', `/api/artifacts/${first.markdown}`)).body;
    assert.equal(md.type, 'markdown');
    assert.deepEqual(md.data, { markdown: '# Task report 1' });
    assert.equal(md.flow_run_id, runId);
    assert.ok(md.task_run_id, 'made in a task: stored with its task run');
    const progress = (await t.api<Artifact>('GET', `/api/artifacts/${first.progress}`)).body;
    assert.deepEqual(progress.data, { progress: 100 });

    const ofRun = (await t.api<Page>('GET', `/api/artifacts?flow_run_id=${runId}`)).body;
    assert.equal(ofRun.items.length, 5);
    const markdowns = (await t.api<Page>('GET', `/api/artifacts?flow_run_id=${runId}&type=markdown`)).body;
    assert.deepEqual(markdowns.items.map((a) => a.id), [first.markdown]);
  });

  it('a key is versioned: every call adds a version, the newest is current', async () => {
    const second = await reporter({ version: 2 });
    const latest = await t.api<Artifact>('GET', '/api/artifacts/latest/orders-by-region');
    assert.equal(latest.status, 200);
    assert.equal(latest.body.id, second.rows);
    assert.equal((latest.body.data.rows as Array<{ total: number }>)[0].total, 2);
    const versions = (await t.api<Page>('GET', '/api/artifacts?key=orders-by-region')).body;
    assert.deepEqual(versions.items.map((a) => a.id), [second.rows, first.rows]);
    assert.equal((await t.api('GET', '/api/artifacts/latest/no-such-key')).status, 404);
    assert.equal((await t.api('GET', '/api/artifacts/latest/BAD_KEY')).status, 400);
  });

  it('pages with next_cursor', async () => {
    const p1 = (await t.api<Page>('GET', '/api/artifacts?limit=3')).body;
    assert.equal(p1.items.length, 3);
    assert.ok(p1.next_cursor);
    const p2 = (await t.api<Page>('GET', `/api/artifacts?limit=3&cursor=${p1.next_cursor}`)).body;
    assert.ok(p2.items.length > 0);
    assert.ok(p2.items.every((a) => !p1.items.some((b) => b.id === a.id)));
    const bad = await t.api<{ error: { code: string; issues: Array<{ path: string }> } }>('GET', '/api/artifacts?type=video');
    assert.equal(bad.status, 400);
    assert.deepEqual(bad.body.error.issues.map((i) => i.path), ['type']);
    assert.equal((await t.api('GET', '/api/artifacts/not-an-id')).status, 404);
  });

  it('publishes reflex.artifact.created with the run as related resource', async () => {
    const found = await waitFor(async () => {
      const r = await t.api<{ items: Array<{ payload: { id: string }; related: Array<Record<string, string>> }> }>('POST', '/api/events/filter', { event: 'reflex.artifact.created', related_id: `reflex.flow-run.${runId}` });
      return r.body.items.length === 5 ? r.body.items : null;
    }, { what: 'five artifact events of the first run' });
    assert.ok(found.some((e) => e.payload.id === first.rows));
  });

  it('bad input fails at the call with the reason, and nothing is stored', async () => {
    const before = (await t.api<Page>('GET', '/api/artifacts?limit=200')).body.items.length;
    await assert.rejects(createTableArtifact({ table: [1, 2] as never }), (e: Error & { code?: string; issues?: Array<{ path: string }> }) => e.code === 'invalid_request' && /table\[0\]/.test(e.issues?.[0]?.path ?? '') && /not a record/.test(e.message));
    await assert.rejects(createTableArtifact({ table: 'a,b' as never }), /list of records .* or a record of columns/);
    await assert.rejects(createTableArtifact({ table: { a: [1, 2], b: [1] } }), /same number of values/);
    await assert.rejects(createTableArtifact({ table: { a: 'x' } as never }), /table\.a: a record of columns maps each column to a list/);
    await assert.rejects(createMarkdownArtifact({ markdown: 'x', key: 'Bad Key!' }), /invalid artifact key/);
    await assert.rejects(createMarkdownArtifact({ markdown: 'x', key: '../etc' }), /invalid artifact key/);
    await assert.rejects(createMarkdownArtifact({ markdown: 'x'.repeat(1024 * 1024 + 1) }), (e: Error & { code?: string }) => e.code === 'payload_too_large' && /at most 1048576/.test(e.message));
    await assert.rejects(createLinkArtifact({ link: 'javascript:alert(1)' }), /must be http or https/);
    await assert.rejects(createLinkArtifact({ link: 'not a url' }), /absolute http\(s\) URL/);
    await assert.rejects(createProgressArtifact({ progress: 101 }), /0 to 100/);
    await assert.rejects(updateProgressArtifact(first.progress, Number.NaN), /0 to 100/);
    const cyclic: Record<string, unknown> = {};
    cyclic.self = cyclic;
    await assert.rejects(createTableArtifact({ table: [cyclic] }), /JSON-serialisable/);
    await assert.rejects(updateProgressArtifact(first.rows, 10), /progress artifact .* does not exist/);
    assert.equal((await t.api<Page>('GET', '/api/artifacts?limit=200')).body.items.length, before);
  });

  it('an artifact made outside any run is stored without a run', async () => {
    const id = await createMarkdownArtifact({ markdown: 'standalone', key: 'standalone' });
    const a = (await t.api<Artifact>('GET', `/api/artifacts/${id}`)).body;
    assert.equal(a.flow_run_id, null);
    assert.equal(a.key, 'standalone');
  });
});
