import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { promisify } from 'node:util';
import { KeyRing, Secrets } from '../modules/secrets/index.ts';
import { startTestEngine, type TestEngine } from './support/harness.ts';

// `reflex secret` and `reflex variable` against a namespace, and key rotation.

const exec = promisify(execFile);
const key = randomBytes(32).toString('base64');

describe('secret and variable CLI', () => {
  let t: TestEngine;
  before(async () => {
    t = await startTestEngine({ services: ['api'], config: { secretsKey: key } });
  });
  after(async () => t?.cleanup());

  it('rotates the key with `reflex secret rotate`, and the CLI never prints a value', async () => {
    const reflex = async (env: Record<string, string>, ...args: string[]) => {
      try {
        const r = await exec(process.execPath, ['--import', 'tsx', 'cli/main.ts', ...args], {
          env: { ...process.env, REFLEX_NAMESPACE: t.config.namespace, REFLEX_LOG_LEVEL: 'silent', ...env },
        });
        return { code: 0, out: r.stdout + r.stderr, stdout: r.stdout };
      } catch (err) {
        const e = err as { code: number; stdout: string; stderr: string };
        return { code: e.code, out: e.stdout + e.stderr, stdout: e.stdout };
      }
    };
    const value = `v_${randomBytes(12).toString('hex')}`;
    const set = await reflex({ REFLEX_SECRETS_KEY: key }, 'secret', 'set', 'cli-secret', '--value', value, '--allow-work-pool', 'default');
    assert.equal(set.code, 0, set.out);
    const ls = await reflex({}, 'secret', 'ls');
    assert.match(ls.out, /cli-secret .* work-pool:default/);
    assert.equal(ls.out.includes(value), false);
    const newKey = randomBytes(32).toString('base64');
    // Without the old key, nothing can be re-encrypted: the row is reported, not lost.
    assert.deepEqual(await new Secrets(t.rt.pg, new KeyRing(newKey)).rotate(), { reencrypted: [], unreadable: ['cli-secret'] });
    const rotated = await reflex({ REFLEX_SECRETS_KEY: newKey, REFLEX_SECRETS_PREVIOUS_KEYS: key }, 'secret', 'rotate');
    assert.equal(rotated.code, 0, rotated.out);
    assert.match(rotated.out, /re-encrypted \d+ secret\(s\)/);
    const requester = { label: 'test', deployments: [], work_pools: ['default'], automations: [] };
    const readNew = await new Secrets(t.rt.pg, new KeyRing(newKey)).resolve(['cli-secret'], requester);
    assert.equal(readNew.get('cli-secret'), value);
    await assert.rejects(new Secrets(t.rt.pg, new KeyRing(key)).resolve(['cli-secret'], requester), /encrypted with key/);
    assert.equal((await t.api('PUT', '/api/variables/cli-var', { value: { n: 1 } })).status, 201);
    assert.deepEqual(JSON.parse((await reflex({}, 'variable', 'get', 'cli-var')).stdout), { n: 1 });
  });
});
