import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { startTestEngine, type TestEngine } from './support/harness.ts';

// Automations as files: applied at start (upsert by name) and by `reflex automation apply`, all or nothing.

let t: TestEngine;
let dir: string;
before(async () => {
  t = await startTestEngine({ services: ['automations', 'api'], config: { automationsDir: 'automations' } });
  dir = mkdtempSync(join(tmpdir(), 'reflex-automations-'));
});
after(async () => {
  await t?.cleanup();
  rmSync(dir, { recursive: true, force: true });
});

function cli(...args: string[]) {
  const r = spawnSync(process.execPath, ['--import', 'tsx', 'cli/main.ts', ...args], {
    env: { ...process.env, REFLEX_NAMESPACE: t.config.namespace, REFLEX_LOG_LEVEL: 'silent' },
    encoding: 'utf8',
  });
  return { code: r.status, out: r.stdout, err: r.stderr };
}

const file = (name: string, doc: unknown) => writeFileSync(join(dir, name), JSON.stringify(doc));
const names = async () => (await t.api('GET', '/api/automations')).body.items.map((a: { name: string }) => a.name).sort();

describe('automation files', () => {
  it('the shipped examples are applied at start', async () => {
    assert.deepEqual(await names(), [
      'crashed-flow-run-to-pagerduty',
      'etl-completed-webhook',
      'failed-flow-run-alert',
      'failed-flow-run-to-slack',
      'large-order-burst',
      'run-etl-on-export',
      'worker-heartbeat-missing',
    ]);
    // The notification examples need secrets a fresh install does not have: they ship disabled.
    const items = (await t.api('GET', '/api/automations')).body.items as Array<{ name: string; enabled: boolean }>;
    assert.deepEqual(items.filter((a) => !a.enabled).map((a) => a.name).sort(), ['crashed-flow-run-to-pagerduty', 'failed-flow-run-to-slack']);
  });

  it('the shipped order-threshold example fires per region in a dry run', async () => {
    const automation = JSON.parse(readFileSync('automations/order-threshold.json', 'utf8'));
    const events = Array.from({ length: 12 }, (_, i) => ({
      event: 'order.created',
      occurred: new Date(Date.UTC(2030, 0, 1, 0, 0, i)).toISOString(),
      resource: { 'reflex.resource.id': `order.${i}` },
      payload: { total: i === 0 ? 50 : 150, region: 'eu' },
    }));
    const res = await t.api('POST', '/api/automations/test', { automation, events });
    assert.equal(res.status, 200, JSON.stringify(res.body));
    assert.equal(res.body.firings.length, 1);
    assert.equal(res.body.firings[0].actions[0].rendered.event.resource['reflex.resource.id'], 'shop.region.eu');
  });

  it('`reflex automation apply` reports created, changed and unchanged', () => {
    file('a.json', { name: 'file-a', trigger: { type: 'event', expect: ['f.a'] } });
    file('b.json', { name: 'file-b', trigger: { type: 'event', expect: ['f.b'] } });
    let r = cli('automation', 'apply', dir);
    assert.equal(r.code, 0, r.err);
    assert.match(r.out, /created\s+file-a, file-b/);
    file('b.json', { name: 'file-b', description: 'now with words', trigger: { type: 'event', expect: ['f.b'] } });
    r = cli('automation', 'apply', dir);
    assert.equal(r.code, 0, r.err);
    assert.match(r.out, /changed\s+file-b/);
    assert.match(r.out, /unchanged\s+file-a/);
  });

  it('an invalid file is rejected with file, path and reason, and nothing of that apply is written', async () => {
    file('c.json', { name: 'file-c', trigger: { type: 'event', expect: ['f.c'] } });
    file('d.json', { name: 'file-d', trigger: { type: 'event', expect: ['f.d'], posture: 'Proactive', within: 0 } });
    const r = cli('automation', 'apply', dir);
    assert.equal(r.code, 1);
    assert.match(r.err, /d\.json: trigger\.within: a Proactive trigger needs within > 0/);
    assert.equal((await names()).includes('file-c'), false);
  });
});
