import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { PassThrough } from 'node:stream';
import { after, before, describe, it } from 'node:test';
import { Webhook } from 'standardwebhooks';
import { createAutomation, emit } from './support/automations.ts';
import { startTestEngine, waitFor, type TestEngine } from './support/harness.ts';
import { Receiver } from './support/receiver.ts';

// Secrets used by a webhook action and by a flow, while every API answer, log line, event, firing
// record, delivery-log entry and dry-run answer is checked to hold no trace of their values.

const key = randomBytes(32).toString('base64');
const token = `tok_${randomBytes(18).toString('hex')}`;
const signing = `whsec_${randomBytes(24).toString('base64')}`;
const literalSigning = `whsec_${randomBytes(24).toString('base64')}`;

describe('secrets', () => {
  let t: TestEngine;
  const receiver = new Receiver();
  const logs: string[] = [];
  const logTo = new PassThrough();
  logTo.on('data', (c: Buffer) => logs.push(c.toString('utf8')));
  const answers: string[] = [];
  /** Calls the API and keeps every answer, to check none holds a value. */
  const api = async (method: string, path: string, body?: unknown) => {
    const res = await t.api(method, path, body);
    answers.push(JSON.stringify(res.body ?? null));
    return res;
  };

  before(async () => {
    await receiver.start();
    t = await startTestEngine({
      services: ['recorder', 'outbox', 'automations', 'webhooks', 'worker', 'api'],
      config: { secretsKey: key, webhookAllowHosts: ['127.0.0.1'], flowsModule: 'tests/support/secret-flows.ts', logLevel: 'debug' },
      logTo,
    });
  });
  after(async () => {
    await receiver.stop();
    await t?.cleanup();
  });

  it('stores secrets write-only: answers give name, grants and times, never the value', async () => {
    const created = await api('POST', '/api/secrets', { name: 'api_token', value: token, allowed: { automations: ['secret-hook'], deployments: ['uses-secret/granted'] } });
    assert.equal(created.status, 201, JSON.stringify(created.body));
    assert.deepEqual(Object.keys(created.body).sort(), ['allowed', 'created_at', 'description', 'last_used_at', 'name', 'updated_at']);
    assert.equal(created.body.last_used_at, null);
    assert.equal((await api('POST', '/api/secrets', { name: 'api_token', value: 'x' })).status, 409);
    const put = await api('PUT', '/api/secrets/signing', { value: signing, allowed: { automations: ['secret-hook'] } });
    assert.equal(put.status, 201);
    const list = await api('GET', '/api/secrets');
    assert.deepEqual(list.body.items.map((s: { name: string }) => s.name), ['api_token', 'signing']);
    const stored = await t.rt.pg.query('SELECT sealed::text AS s FROM secrets');
    for (const r of stored.rows) assert.equal(r.s.includes(Buffer.from(token).toString('hex')), false, 'stored encrypted');
  });

  it('refuses bad names, oversize values, unknown fields and bad grants with field paths', async () => {
    const cases: Array<[unknown, string]> = [
      [{ name: '1bad', value: 'v' }, 'name'],
      [{ name: 'has space', value: 'v' }, 'name'],
      [{ name: 'a'.repeat(101), value: 'v' }, 'name'],
      [{ name: 'ok', value: '' }, 'value'],
      [{ name: 'ok', value: 'x'.repeat(64 * 1024 + 1) }, 'value'],
      [{ name: 'ok', value: 'v', extra: 1 }, ''],
      [{ name: 'ok', value: 'v', allowed: { deployments: 'all' } }, 'allowed.deployments'],
      [{ name: 'ok', value: 42 }, 'value'],
    ];
    for (const [body, path] of cases) {
      const res = await api('POST', '/api/secrets', body);
      assert.equal(res.status, 400, JSON.stringify(body).slice(0, 80));
      assert.ok(res.body.error.issues.some((i: { path: string }) => i.path === path), JSON.stringify(res.body.error));
    }
    assert.equal((await api('GET', '/api/secrets/nope')).status, 404);
    assert.equal((await api('GET', '/api/secrets/..%2Fx')).status, 400);
    assert.equal((await api('DELETE', '/api/secrets/nope')).status, 404);
  });

  it('fills secrets into a webhook at send time; nothing else ever holds them', async () => {
    const automation = {
      name: 'secret-hook',
      trigger: { type: 'event', expect: ['order.paid'] },
      actions: [
        {
          type: 'call-webhook',
          url: `${receiver.url}/paid`,
          headers: { authorization: 'Bearer {{ secrets.api_token }}', 'x-token': { secret: 'api_token' } },
          body: '{"order": {{ event.payload.n }}, "token": "{{ secrets.api_token }}", "inject": {{ event.payload.inject | json }}}',
          secret: { secret: 'signing' },
        },
      ],
    };
    const id = await createAutomation(t, automation);
    // An event that tries to name the secret itself gets its text sent as it is.
    const inject = `[[reflex-secret:api_token:${'0'.repeat(32)}]]`;
    await emit(t, [{ event: 'order.paid', payload: { n: 7, inject } }]);
    await waitFor(() => receiver.requestsTo('/paid').length === 1, { what: 'the webhook' });
    const [req] = receiver.requestsTo('/paid');
    assert.equal(req.headers.authorization, `Bearer ${token}`);
    assert.equal(req.headers['x-token'], token);
    const body = new Webhook(signing).verify(req.body, req.headers as Record<string, string>) as { order: number; token: string };
    assert.deepEqual(body, { order: 7, token, inject });

    const deliveries = await waitFor(async () => {
      const res = await api('GET', `/api/webhook-deliveries?automation_id=${id}&status=succeeded`);
      return res.body.items.length === 1 ? res.body.items : null;
    });
    assert.match(deliveries[0].headers.authorization, /^Bearer \*{8}\(secret api_token\)$/);
    await api('GET', `/api/webhook-deliveries/${deliveries[0].id}`);
    await api('GET', `/api/automations/${id}`);
    await api('GET', '/api/automations');
    await api('GET', `/api/automations/${id}/firings`);
    const dry = await api('POST', '/api/automations/test', { automation, events: [{ event: 'order.paid', resource: { 'reflex.resource.id': 'x' }, payload: { n: 1, inject: 'x' } }] });
    assert.equal(dry.status, 200);
    assert.match(JSON.stringify(dry.body), /\*{8}\(secret api_token\)/);
    const secretView = await api('GET', '/api/secrets/api_token');
    assert.notEqual(secretView.body.last_used_at, null, 'last_used_at stamped');

    // Replaying resolves the secrets again.
    const replay = await api('POST', `/api/webhook-deliveries/${deliveries[0].id}/replay`);
    assert.ok(replay.status < 300, JSON.stringify(replay.body));
    await waitFor(() => receiver.requestsTo('/paid').length === 2, { what: 'the replay' });
    assert.equal(receiver.requestsTo('/paid')[1].headers['x-token'], token);
  });

  it('refuses a secret to an automation it is not granted to, naming both', async () => {
    const id = await createAutomation(t, {
      name: 'not-granted',
      trigger: { type: 'event', expect: ['order.refunded'] },
      actions: [{ type: 'call-webhook', url: `${receiver.url}/refund`, headers: { 'x-token': { secret: 'api_token' } } }],
    });
    await emit(t, [{ event: 'order.refunded' }]);
    const failed = await waitFor(async () => {
      const res = await api('GET', `/api/webhook-deliveries?automation_id=${id}&status=failed`);
      return res.body.items[0];
    }, { what: 'the refused delivery' });
    assert.match(failed.last_error, /secret "api_token" is not granted to automation "not-granted"/);
    assert.equal(receiver.requestsTo('/refund').length, 0);
  });

  it('refuses {{ secrets.X }} outside webhooks and notifications', async () => {
    const dry = await api('POST', '/api/automations/test', {
      automation: { name: 'leaky', trigger: { type: 'event', expect: ['x'] }, actions: [{ type: 'emit-event', event: { event: 'copy', resource: { 'reflex.resource.id': '{{ secrets.api_token }}' } } }] },
      events: [{ event: 'x', resource: { 'reflex.resource.id': 'x' } }],
    });
    assert.match(JSON.stringify(dry.body), /secrets can only be used in call-webhook and send-notification/);
  });

  it('masks a literal signing secret in every automation answer and in the dry run', async () => {
    const doc = { name: 'literal-signed', trigger: { type: 'event', expect: ['lit'] }, actions: [{ type: 'call-webhook', url: `${receiver.url}/lit`, secret: literalSigning }] };
    const created = await api('POST', '/api/automations', doc);
    assert.equal(created.status, 201);
    assert.equal(created.body.actions[0].secret, '********');
    const list = await api('GET', '/api/automations');
    assert.equal(list.body.items.find((a: { name: string }) => a.name === 'literal-signed').actions[0].secret, '********');
    const dry = await api('POST', '/api/automations/test', { automation: doc, events: [{ event: 'lit', resource: { 'reflex.resource.id': 'x' } }] });
    const rendered = dry.body.firings[0].actions[0].rendered;
    assert.equal(rendered.job.secret, undefined);
    assert.equal(rendered.job.signed, true);
    for (const a of answers) assert.equal(a.includes(literalSigning), false);
  });

  it('gives a flow its secret when its deployment is granted, and refuses another deployment', async () => {
    const sha256 = createHash('sha256').update(token).digest('hex');
    const granted = await api('POST', '/api/deployments', { name: 'granted', flow: 'uses-secret', parameters: { name: 'api_token', sha256 } });
    const other = await api('POST', '/api/deployments', { name: 'other', flow: 'uses-secret', parameters: { name: 'api_token', sha256 } });
    const ok = await api('POST', `/api/deployments/${granted.body.id}/runs`, {});
    const refused = await api('POST', `/api/deployments/${other.body.id}/runs`, {});
    const final = async (id: string) =>
      waitFor(async () => {
        const r = await api('GET', `/api/flow-runs/${id}`);
        return ['COMPLETED', 'FAILED', 'CRASHED'].includes(r.body.state.type) ? r.body : null;
      }, { what: `run ${id} final`, timeoutMs: 15_000 });
    const okRun = await final(ok.body.id);
    assert.equal(okRun.state.type, 'COMPLETED', JSON.stringify(okRun.state));
    assert.deepEqual(okRun.result, { matches: true });
    const runLogs = await waitFor(async () => {
      const r = await api('GET', `/api/flow-runs/${ok.body.id}/logs`);
      return r.body.items?.find((l: { message: string }) => l.message.startsWith('got the token')) ? r.body.items : null;
    });
    assert.ok(JSON.stringify(runLogs).includes('got the token ********'));
    // Flow code that returns the value (through a task too) or throws it: the stored result, the task's
    // input and result, and the failure's message and error hold the mask; the API says it was masked.
    const returned = await final((await api('POST', `/api/deployments/${granted.body.id}/runs`, { parameters: { name: 'api_token', sha256, leak: 'return' } })).body.id);
    assert.equal(returned.state.type, 'COMPLETED', JSON.stringify(returned.state));
    assert.deepEqual(returned.result, { $reflex_masked: true, value: { token: '********', via_task: { echoed: '********' } } });
    const detail = await api('GET', `/api/flow-runs/${returned.id}`);
    assert.equal(detail.body.task_runs.length, 1, JSON.stringify(detail.body));
    assert.deepEqual(detail.body.task_runs[0].result, { $reflex_masked: true, value: { echoed: '********' } });
    const thrown = await final((await api('POST', `/api/deployments/${granted.body.id}/runs`, { parameters: { name: 'api_token', sha256, leak: 'throw' } })).body.id);
    assert.equal(thrown.state.type, 'FAILED');
    assert.match(thrown.state.message, /refused the token \*{8}/);
    const badRun = await final(refused.body.id);
    assert.equal(badRun.state.type, 'FAILED');
    assert.match(JSON.stringify(badRun.state), /secret \\"api_token\\" is not granted to flow run [0-9a-f-]+ \(deployment \\"uses-secret\/other\\"/);
  });

  it('left no trace of a value in any answer, event, firing, job or log line', async () => {
    const events = await t.rt.pg.query(`SELECT count(*)::int AS n, bool_or(row_to_json(e)::text LIKE '%' || $1 || '%') AS leaked FROM events e`, [token]);
    assert.ok(events.rows[0].n > 0);
    assert.equal(events.rows[0].leaked, false, 'an event holds the token');
    const used = await waitFor(async () => (await t.rt.pg.query(`SELECT payload FROM events WHERE event = 'secret.used'`)).rows[0]);
    assert.deepEqual(used.payload, { leaked: '********' }, 'an event the flow emits with the value holds the mask');
    for (const table of ['automation_firings', 'webhook_deliveries', 'webhook_attempts', 'flow_runs', 'flow_run_states', 'task_runs', 'task_run_states', 'logs', 'outbox']) {
      const res = await t.rt.pg.query(`SELECT count(*)::int AS n FROM ${table} x WHERE row_to_json(x)::text LIKE '%' || $1 || '%' OR row_to_json(x)::text LIKE '%' || $2 || '%'`, [token, signing]);
      assert.equal(res.rows[0].n, 0, `${table} holds a value`);
    }
    const jobs = await t.rt.redis.keys(`*${t.config.namespace}*`);
    for (const k of jobs) {
      const type = await t.rt.redis.type(k);
      if (type !== 'hash') continue;
      const h = JSON.stringify(await t.rt.redis.hgetall(k));
      assert.equal(h.includes(token) || h.includes(signing), false, `redis ${k} holds a value`);
    }
    for (const a of answers) assert.equal(a.includes(token) || a.includes(signing), false, `an answer holds a value: ${a.slice(0, 200)}`);
    assert.ok(logs.length > 0);
    for (const l of logs) assert.equal(l.includes(token) || l.includes(signing) || l.includes(key), false, `a log line holds a value: ${l.slice(0, 300)}`);
  });
});

describe('secrets without a key', () => {
  let t: TestEngine;
  before(async () => {
    t = await startTestEngine({ services: ['api'], config: { secretsKey: undefined } });
  });
  after(async () => t?.cleanup());

  it('refuses to store a secret, naming REFLEX_SECRETS_KEY', async () => {
    const res = await t.api('POST', '/api/secrets', { name: 'x', value: 'v' });
    assert.equal(res.status, 422);
    assert.equal(res.body.error.code, 'secrets_not_configured');
    assert.match(res.body.error.message, /REFLEX_SECRETS_KEY is not set/);
    assert.equal((await t.api('GET', '/api/secrets')).body.items.length, 0, 'nothing half-written');
  });
});

describe('the secrets key setting', () => {
  it('refuses a key that is not 32 bytes of base64, naming the variable', async () => {
    const { loadConfig } = await import('../core/config.ts');
    for (const bad of ['short', randomBytes(16).toString('base64'), `${randomBytes(32).toString('base64')}!`]) {
      assert.throws(() => loadConfig({ REFLEX_SECRETS_KEY: bad }), /REFLEX_SECRETS_KEY: must be 32 bytes in base64/);
    }
    assert.throws(() => loadConfig({ REFLEX_SECRETS_KEY: key, REFLEX_SECRETS_PREVIOUS_KEYS: `${key},nope` }), /REFLEX_SECRETS_PREVIOUS_KEYS/);
    assert.equal(loadConfig({ REFLEX_SECRETS_KEY: key }).secretsKey, key);
  });
});
