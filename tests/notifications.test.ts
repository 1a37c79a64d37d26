import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { createAutomation, emit } from './support/automations.ts';
import { startTestEngine, waitFor, type TestEngine } from './support/harness.ts';
import { Receiver } from './support/receiver.ts';

// send-notification to Slack- and PagerDuty-shaped loopback receivers; variables in templates and in
// flows.

const key = randomBytes(32).toString('base64');
const routingKey = `R${randomBytes(15).toString('hex')}`;

describe('notifications and variables', () => {
  let t: TestEngine;
  const receiver = new Receiver();

  before(async () => {
    await receiver.start();
    t = await startTestEngine({
      services: ['recorder', 'outbox', 'automations', 'webhooks', 'worker', 'api'],
      config: { secretsKey: key, webhookAllowHosts: ['127.0.0.1'], flowsModule: 'tests/support/secret-flows.ts', variablesCacheSeconds: 0.2, publicUrl: 'http://reflex.example' },
    });
  });
  after(async () => {
    await receiver.stop();
    await t?.cleanup();
  });

  it('sends a Block Kit message to a Slack webhook URL held as a secret, linking the failed run', async () => {
    const slackPath = `/services/T000/B000/${randomBytes(8).toString('hex')}`;
    assert.equal((await t.api('POST', '/api/secrets', { name: 'slack-url', value: `${receiver.url}${slackPath}`, allowed: { automations: ['failed-to-slack'] } })).status, 201);
    await createAutomation(t, {
      name: 'failed-to-slack',
      trigger: { type: 'event', expect: ['reflex.flow-run.Failed'], match: { 'reflex.resource.id': 'reflex.flow-run.*' } },
      actions: [{ type: 'send-notification', destination: { type: 'slack', url: { secret: 'slack-url' } } }],
    });
    const dep = await t.api('POST', '/api/deployments', { name: 'nope', flow: 'uses-secret', parameters: { name: 'missing', sha256: '' } });
    const run = await t.api('POST', `/api/deployments/${dep.body.id}/runs`, {});
    await waitFor(() => receiver.requestsTo(slackPath).length === 1, { what: 'the Slack message', timeoutMs: 15_000 });
    const [req] = receiver.requestsTo(slackPath);
    assert.equal(req.headers['content-type'], 'application/json');
    const msg = JSON.parse(req.body);
    assert.match(msg.text, new RegExp(`^Flow run \\S+ of uses-secret is Failed$`));
    assert.equal(msg.blocks[0].type, 'header');
    assert.equal(msg.blocks[0].text.text, msg.text);
    assert.equal(msg.blocks[1].type, 'section');
    assert.match(msg.blocks[1].text.text, /secret "missing" does not exist/);
    const button = msg.blocks.find((b: { type: string }) => b.type === 'actions').elements[0];
    assert.equal(button.url, `http://reflex.example/runs/${run.body.id}`);
    const deliveries = await t.api('GET', '/api/webhook-deliveries');
    assert.equal(JSON.stringify(deliveries.body).includes(slackPath), false, 'the Slack URL is masked in the delivery log');
  });

  it('triggers a PagerDuty incident when a proactive trigger fires and resolves it with the same dedup key', async () => {
    assert.equal((await t.api('POST', '/api/secrets', { name: 'pd-key', value: routingKey, allowed: { automations: ['heartbeat-to-pagerduty'] } })).status, 201);
    const pd = { type: 'send-notification', destination: { type: 'pagerduty', routing_key: { secret: 'pd-key' }, url: `${receiver.url}/v2/enqueue`, severity: 'critical' } };
    await createAutomation(t, {
      name: 'heartbeat-to-pagerduty',
      trigger: { type: 'event', expect: ['sensor.heartbeat'], posture: 'Proactive', threshold: 1, within: 1 },
      actions: [pd],
      actions_on_resolve: [pd],
    });
    await waitFor(() => receiver.requestsTo('/v2/enqueue').length >= 1, { what: 'the PagerDuty trigger', timeoutMs: 15_000 });
    const trigger = JSON.parse(receiver.requestsTo('/v2/enqueue')[0].body);
    assert.equal(trigger.event_action, 'trigger');
    assert.equal(trigger.routing_key, routingKey);
    assert.equal(trigger.payload.severity, 'critical');
    assert.equal(trigger.payload.source, 'reflex');
    assert.match(trigger.payload.summary, /^heartbeat-to-pagerduty: /);
    assert.match(trigger.dedup_key, /^reflex-[0-9a-f-]{36}/);
    assert.equal(typeof trigger.dedup_key, 'string');
    assert.ok(trigger.dedup_key.length > 0 && trigger.dedup_key.length <= 255);
    await emit(t, [{ event: 'sensor.heartbeat' }]);
    const resolve = await waitFor(() => receiver.requestsTo('/v2/enqueue').map((r) => JSON.parse(r.body)).find((b) => b.event_action === 'resolve'), {
      what: 'the PagerDuty resolve',
      timeoutMs: 15_000,
    });
    assert.deepEqual(resolve, { routing_key: routingKey, event_action: 'resolve', dedup_key: trigger.dedup_key });
  });

  it('renders Teams, Discord and generic webhook messages (dry run), their URLs masked', async () => {
    const destinations = [
      { type: 'teams', url: { secret: 'teams-url' } },
      { type: 'discord', url: { secret: 'discord-url' } },
      { type: 'webhook', url: 'https://example.com/hook', headers: { 'x-key': { secret: 'hook-key' } } },
    ];
    const dry = await t.api('POST', '/api/automations/test', {
      automation: { name: 'shapes', trigger: { type: 'event', expect: ['x'] }, actions: destinations.map((destination) => ({ type: 'send-notification', destination, message: 'about {{ event.event }}' })) },
      events: [{ event: 'x', resource: { 'reflex.resource.id': 'thing.1' } }],
    });
    assert.equal(dry.status, 200, JSON.stringify(dry.body));
    const [teams, discord, hook] = dry.body.firings[0].actions.map((a: { rendered: { job: { url: string; headers: Record<string, string>; body: string } } }) => a.rendered.job);
    assert.equal(teams.url, '********(secret teams-url)');
    const card = JSON.parse(teams.body);
    assert.equal(card.type, 'message');
    assert.equal(card.attachments[0].contentType, 'application/vnd.microsoft.card.adaptive');
    assert.equal(card.attachments[0].content.type, 'AdaptiveCard');
    assert.equal(card.attachments[0].content.body[1].text, 'about x');
    assert.equal(discord.url, '********(secret discord-url)');
    const d = JSON.parse(discord.body);
    assert.equal(d.embeds[0].description, 'about x');
    assert.match(d.content, /^shapes: x on thing\.1$/);
    assert.equal(hook.url, 'https://example.com/hook');
    assert.equal(hook.headers['x-key'], '********(secret hook-key)');
    assert.deepEqual(Object.keys(JSON.parse(hook.body)).sort(), ['automation', 'event', 'flow_run', 'link', 'message', 'state', 'title']);
    const bad = await t.api('POST', '/api/automations', { name: 'plain-slack', trigger: { type: 'event', expect: ['x'] }, actions: [{ type: 'send-notification', destination: { type: 'slack', url: 'https://hooks.slack.com/x' } }] });
    assert.equal(bad.status, 400, 'a Slack URL must be a secret');
  });

  it('delivers Teams, Discord and generic webhook messages to their receivers, the secrets filled in at send time', async () => {
    const paths = { teams: `/teams/${randomBytes(6).toString('hex')}`, discord: `/discord/${randomBytes(6).toString('hex')}`, hook: '/generic-hook' };
    const hookKey = `key_${randomBytes(12).toString('hex')}`;
    const grant = { allowed: { automations: ['shapes-live'] } };
    for (const [name, value] of [['teams-live', `${receiver.url}${paths.teams}`], ['discord-live', `${receiver.url}${paths.discord}`], ['hook-live-key', hookKey]]) {
      assert.equal((await t.api('POST', '/api/secrets', { name, value, ...grant })).status, 201);
    }
    await createAutomation(t, {
      name: 'shapes-live',
      trigger: { type: 'event', expect: ['shapes.live'] },
      actions: [
        { type: 'send-notification', destination: { type: 'teams', url: { secret: 'teams-live' } }, message: 'teams about {{ event.payload.n }}' },
        { type: 'send-notification', destination: { type: 'discord', url: { secret: 'discord-live' } }, message: 'discord about {{ event.payload.n }}' },
        { type: 'send-notification', destination: { type: 'webhook', url: `${receiver.url}${paths.hook}`, headers: { 'x-key': { secret: 'hook-live-key' } } }, message: 'hook about {{ event.payload.n }}' },
      ],
    });
    await emit(t, [{ event: 'shapes.live', resource: { 'reflex.resource.id': 'thing.7' }, payload: { n: 7 } }]);
    await waitFor(() => Object.values(paths).every((p) => receiver.requestsTo(p).length === 1), { what: 'the three messages', timeoutMs: 15_000 });
    const body = (p: string) => JSON.parse(receiver.requestsTo(p)[0].body);
    const card = body(paths.teams);
    assert.equal(receiver.requestsTo(paths.teams)[0].headers['content-type'], 'application/json');
    assert.equal(card.type, 'message');
    assert.equal(card.attachments[0].contentType, 'application/vnd.microsoft.card.adaptive');
    assert.equal(card.attachments[0].content.type, 'AdaptiveCard');
    assert.equal(card.attachments[0].content.body[1].text, 'teams about 7');
    const d = body(paths.discord);
    assert.equal(d.embeds[0].description, 'discord about 7');
    assert.match(d.content, /^shapes-live: shapes\.live on thing\.7$/);
    const hook = receiver.requestsTo(paths.hook)[0];
    assert.equal(hook.headers['x-key'], hookKey, 'the header secret is filled in at send time');
    assert.equal(JSON.parse(hook.body).message, 'hook about 7');
    const log = JSON.stringify((await t.api('GET', '/api/webhook-deliveries')).body);
    for (const secret of [paths.teams, paths.discord, hookKey]) assert.equal(log.includes(secret), false, 'the delivery log holds no secret');
  });

  it('renders {{ variables.<name> }} and sees a change after the cache', async () => {
    assert.equal((await t.api('POST', '/api/variables', { name: 'greeting', value: { text: 'hello' } })).status, 201);
    await createAutomation(t, {
      name: 'greets',
      trigger: { type: 'event', expect: ['greet'] },
      actions: [{ type: 'call-webhook', url: `${receiver.url}/greet`, body: '{{ variables.greeting.text }} {{ variables.missing | default: "none" }}' }],
    });
    await emit(t, [{ event: 'greet' }]);
    await waitFor(() => receiver.requestsTo('/greet').length === 1);
    assert.equal(receiver.requestsTo('/greet')[0].body, 'hello none');
    assert.equal((await t.api('PUT', '/api/variables/greeting', { value: { text: 'bonjour' } })).status, 200);
    // The cache keeps a value at most variablesCacheSeconds: emit until the new value is seen.
    await waitFor(async () => {
      await emit(t, [{ event: 'greet' }]);
      await waitFor(() => receiver.requestsTo('/greet').length >= 2);
      return receiver.requestsTo('/greet').some((r) => r.body === 'bonjour none');
    }, { what: 'the changed variable', timeoutMs: 10_000, intervalMs: 300 });
  });

  it('stops a template that reads variables in a loop after 50 names', async () => {
    const dry = await t.api('POST', '/api/automations/test', {
      automation: {
        name: 'var-loop',
        trigger: { type: 'event', expect: ['x'] },
        actions: [{ type: 'call-webhook', url: 'https://example.com/', body: '{% for i in (1..5000) %}{% assign n = "v" | append: i %}{{ variables[n] }}{% endfor %}' }],
      },
      events: [{ event: 'x', resource: { 'reflex.resource.id': 'x' } }],
    });
    assert.equal(dry.status, 200);
    assert.match(JSON.stringify(dry.body), /read at most 50 variables/);
  });

  it('manages variables through the API with validation, and from flows', async () => {
    assert.equal((await t.api('POST', '/api/variables', { name: 'greeting', value: 1 })).status, 409);
    for (const body of [{ name: 'bad name', value: 1 }, { name: 'ok' }, { name: 'big', value: 'x'.repeat(70_000) }, { name: 'ok', value: 1, x: 1 }]) {
      const res = await t.api('POST', '/api/variables', body);
      assert.equal(res.status, 400, JSON.stringify(body).slice(0, 60));
      assert.ok(res.body.error.issues.length > 0);
    }
    const dep = await t.api('POST', '/api/deployments', { name: 'vars', flow: 'uses-variables', parameters: { read: 'greeting', write: 'seen' } });
    const run = await t.api('POST', `/api/deployments/${dep.body.id}/runs`, {});
    const final = await waitFor(async () => {
      const r = await t.api('GET', `/api/flow-runs/${run.body.id}`);
      return r.body.state.type === 'COMPLETED' || r.body.state.type === 'FAILED' ? r.body : null;
    }, { timeoutMs: 15_000 });
    assert.equal(final.state.type, 'COMPLETED', JSON.stringify(final.state));
    assert.deepEqual(final.result, { text: 'bonjour' });
    assert.deepEqual((await t.api('GET', '/api/variables/seen')).body.value, { seen: { text: 'bonjour' } });
    assert.equal((await t.api('DELETE', '/api/variables/seen')).status, 204);
    assert.equal((await t.api('GET', '/api/variables/seen')).status, 404);
  });

});
