import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { PassThrough } from 'node:stream';
import { describe, it } from 'node:test';
import { createLogger } from '../core/log.ts';
import { loadConfig, SETTING_NAMES, SETTINGS } from '../core/config.ts';

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
    assert.match(out, /flow_run_id: "r1"/);
    assert.doesNotMatch(out, /^\{/m, 'not a JSON line');
  });
});
