import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { PassThrough } from 'node:stream';
import { describe, it } from 'node:test';
import { createLogger } from '../core/log.ts';
import { loadConfig, SETTING_NAMES, SETTINGS } from '../core/config.ts';
import { DependencyUnavailableError } from '../core/errors.ts';

/** The settings are declared once (core/config.ts); the reference in docs/configuration.md must follow them. */

const docs = readFileSync(new URL('../docs/configuration.md', import.meta.url), 'utf8');
const documented = [...docs.matchAll(/^### `(REFLEX_[A-Z0-9_]+)`/gm)].map((m) => m[1]);

/** The text of one variable's section. */
const section = (name: string) => {
  const start = docs.indexOf(`### \`${name}\``);
  const next = docs.indexOf('\n### ', start + 1);
  return docs.slice(start, next < 0 ? undefined : next);
};

describe('settings and their documentation', () => {
  it('documents every setting, and only settings that exist', () => {
    assert.deepEqual([...documented].sort(), [...SETTING_NAMES].sort());
  });

  it("states each setting's default as the schema has it", () => {
    const defaults = loadConfig({});
    for (const [key, s] of Object.entries(SETTINGS)) {
      const value = (defaults as Record<string, unknown>)[key];
      if (value === undefined || typeof value === 'boolean' || Array.isArray(value)) continue;
      if ((key === 'publicUrl' || key === 'apiUrl') && !process.env[s.env]) continue; // derived from host and port
      assert.ok(section(s.env).includes(`\`${value}\``), `${s.env}: its section states the default \`${value}\``);
    }
  });

  it('names the variable and the reason when a value is bad', () => {
    assert.throws(() => loadConfig({ REFLEX_PORT: '70000' }), /REFLEX_PORT/);
    assert.throws(() => loadConfig({ REFLEX_PRETTY_LOGS: 'maybe' }), /REFLEX_PRETTY_LOGS/);
  });

  it('REFLEX_PRETTY_LOGS makes log lines readable instead of JSON', () => {
    assert.equal(loadConfig({ REFLEX_PRETTY_LOGS: 'true' }).prettyLogs, true);
    assert.equal(loadConfig({ REFLEX_PRETTY_LOGS: 'false' }).prettyLogs, false);
    const lines: string[] = [];
    const destination = new PassThrough();
    destination.on('data', (chunk: Buffer) => lines.push(chunk.toString()));
    createLogger({ level: 'info', pretty: true, destination }).child({ service: 'api' }).info({ flow_run_id: 'r1' }, 'listening');
    const out = lines.join('');
    assert.match(out, /INFO.*\[api\] listening/);
    assert.match(out, /run=r1/);
    assert.doesNotMatch(out, /^\{/m, 'not a JSON line');
  });

  it('REFLEX_LOG_FORMAT chooses pretty or JSON and wins over REFLEX_PRETTY_LOGS', () => {
    assert.equal(loadConfig({ REFLEX_LOG_FORMAT: 'json', REFLEX_PRETTY_LOGS: 'true' }).prettyLogs, false);
    assert.equal(loadConfig({ REFLEX_LOG_FORMAT: 'pretty', REFLEX_PRETTY_LOGS: 'false' }).prettyLogs, true);
    assert.throws(() => loadConfig({ REFLEX_LOG_FORMAT: 'xml' }), /REFLEX_LOG_FORMAT/);
  });

  it('JSON log lines carry an error with its code and its cause chain', () => {
    const lines: string[] = [];
    const destination = new PassThrough();
    destination.on('data', (chunk: Buffer) => lines.push(chunk.toString()));
    const root = Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:1'), { code: 'ECONNREFUSED' });
    const err = new DependencyUnavailableError('Redis', 'redis://127.0.0.1:1', 'start it', root);
    createLogger({ level: 'info', destination }).child({ service: 'worker' }).error({ err, flow_run_id: 'r1' }, 'failed');
    const line = JSON.parse(lines.join('')) as { service: string; flow_run_id: string; err: { code: string; message: string; cause: { code: string; message: string } } };
    assert.equal(line.service, 'worker');
    assert.equal(line.flow_run_id, 'r1');
    assert.equal(line.err.code, 'dependency_unavailable');
    assert.equal(line.err.cause.code, 'ECONNREFUSED');
    assert.match(line.err.cause.message, /ECONNREFUSED/);
  });
});
