import { createHash } from 'node:crypto';
import { emitEvent, flow, getRunLogger, getSecret, getVariable, setVariable, task } from 'reflex/sdk';

/** Flows of the secrets and variables tests (issue 13), loaded by the in-process worker (REFLEX_FLOWS). */

/** Hands its input back: a task whose input and result both hold the secret. */
const echo = task({ name: 'echo-secret' }, async (value: string) => ({ echoed: value }));

/**
 * Reads a secret, logs it (the log must show it masked) and answers whether its hash is the expected one;
 * with `leak`, returns the value through a task, or fails with it in the error's message, as careless
 * flow code does (what is stored must hold the mask).
 */
export const usesSecret = flow({ name: 'uses-secret' }, async (params: { name: string; sha256: string; leak?: 'return' | 'throw' }) => {
  const value = await getSecret(params.name);
  if (params.leak === 'return') return { token: value, via_task: await echo(value) };
  if (params.leak === 'throw') throw new Error(`the service refused the token ${value}`);
  getRunLogger().info({ token: value }, `got the token ${value}`);
  await emitEvent({ event: 'secret.used', resource: { 'reflex.resource.id': 'test.secret' }, payload: { leaked: value } });
  return { matches: createHash('sha256').update(value).digest('hex') === params.sha256 };
});

/** Reads a variable with a default, then writes another. */
export const usesVariables = flow({ name: 'uses-variables' }, async (params: { read: string; write: string }) => {
  const value = await getVariable(params.read, { fallback: true });
  await setVariable(params.write, { seen: value });
  return value;
});
