import { getDeployment, getFlowRunDetail } from '../modules/runs/index.ts';
import { flowRunRequester } from '../modules/secrets/index.ts';
import { findVariable, putVariable } from '../modules/variables/index.ts';
import { SecretNameSchema, VariableInputSchema, VariableNameSchema } from '../schemas/secret.ts';
import { resolveClient, type EngineClient } from './client.ts';
import { runContext } from './context.ts';
import { SdkUsageError } from './errors.ts';
import { reveal } from './revealed.ts';

/**
 * Secrets and variables for flow code (issue 13). getSecret answers a stored secret's value to a flow run
 * whose deployment or work pool the secret is granted to; anything else is refused with a
 * SecretAccessDeniedError naming the secret and the run. Variables are plain named JSON values.
 */

function checkName(kind: 'secret' | 'variable', name: unknown): string {
  const parsed = (kind === 'secret' ? SecretNameSchema : VariableNameSchema).safeParse(name);
  if (!parsed.success) throw new SdkUsageError(`${kind} name ${JSON.stringify(name)} ${parsed.error.issues[0]?.message ?? 'is invalid'}`);
  return parsed.data;
}

async function engine(what: string): Promise<EngineClient> {
  const client = runContext.getStore()?.client ?? (await resolveClient());
  if (!client) throw new SdkUsageError(`${what} needs the engine, which is unreachable from this process (see the REFLEX_* settings)`);
  return client;
}

/** The value of secret `name`, for the current flow run (its deployment or work pool must be granted it). */
export async function getSecret(name: string): Promise<string> {
  const checked = checkName('secret', name);
  const flowRunId = runContext.getStore()?.flow?.id ?? runContext.getStore()?.flowRunId;
  if (!flowRunId) throw new SdkUsageError(`getSecret("${checked}") must be called inside a recorded flow run: a secret is granted to deployments and work pools, not to scripts`);
  const client = await engine(`getSecret("${checked}")`);
  const run = await getFlowRunDetail(client.pg, flowRunId);
  const deployment = run?.deployment_id ? await getDeployment(client.pg, run.deployment_id) : null;
  const requester = flowRunRequester({
    id: flowRunId,
    deployment: deployment ? { id: deployment.id, name: `${deployment.flow}/${deployment.name}` } : null,
    work_pool: run?.work_pool ?? null,
  });
  const value = (await client.secrets.resolve([checked], requester)).get(checked)!;
  reveal(value);
  return value;
}

/** The JSON value of variable `name`, or `defaultValue` when it is not set. */
export async function getVariable<T = unknown>(name: string, defaultValue?: T): Promise<T | undefined> {
  const checked = checkName('variable', name);
  const client = await engine(`getVariable("${checked}")`);
  const hold = client.hold();
  try {
    const v = await findVariable(client.pg, checked);
    return v ? (v.value as T) : defaultValue;
  } finally {
    hold();
  }
}

/** Creates or replaces variable `name` with a JSON value. */
export async function setVariable(name: string, value: unknown, options: { tags?: string[] } = {}): Promise<void> {
  const parsed = VariableInputSchema.safeParse({ name, value, tags: options.tags ?? [] });
  if (!parsed.success) throw new SdkUsageError(`setVariable("${String(name)}"): ${parsed.error.issues.map((i) => `${i.path.join('.') || '(root)'}: ${i.message}`).join('; ')}`);
  const client = await engine(`setVariable("${parsed.data.name}")`);
  const hold = client.hold();
  try {
    await putVariable(client.pg, parsed.data.name, parsed.data.value, options.tags);
  } finally {
    hold();
  }
}
