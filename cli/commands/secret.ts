import type { Command } from 'commander';
import { loadConfig } from '../../core/config.ts';
import { createLogger } from '../../core/log.ts';
import { openRuntime, type Runtime } from '../../infra/runtime.ts';
import { KeyRing, Secrets } from '../../modules/secrets/index.ts';
import { SecretInputSchema, type SecretGrants } from '../../schemas/secret.ts';
import { ValidationError } from '../../core/errors.ts';
import { fail } from '../output.ts';

/**
 * `reflex secret set|ls|rm|rotate`: secrets straight in the namespace's database, sealed with this
 * process's REFLEX_SECRETS_KEY (rotate re-encrypts with it, reading with REFLEX_SECRETS_PREVIOUS_KEYS).
 * `set` reads the value from stdin when --value is not given, so it stays out of the shell history.
 */
async function withSecrets<T>(fn: (s: Secrets, rt: Runtime) => Promise<T>): Promise<T> {
  const config = loadConfig();
  const rt = await openRuntime(config, createLogger({ level: 'error' }));
  try {
    return await fn(new Secrets(rt.pg, new KeyRing(config.secretsKey, config.secretsPreviousKeys)), rt);
  } finally {
    await rt.close();
  }
}

async function readStdin(): Promise<string> {
  if (process.stdin.isTTY) fail('give the value with --value or on stdin (e.g. `printf %s "$TOKEN" | reflex secret set NAME`)');
  const chunks: Buffer[] = [];
  for await (const c of process.stdin) chunks.push(c as Buffer);
  return Buffer.concat(chunks).toString('utf8').replace(/\r?\n$/, '');
}

const collect = (v: string, all: string[]) => [...all, v];

export function registerSecret(program: Command): void {
  const secret = program.command('secret').description('manage secrets (encrypted with REFLEX_SECRETS_KEY; values are never shown)');

  secret
    .command('set')
    .description('create or change a secret (value from --value or stdin); grants given replace the stored ones')
    .argument('<name>')
    .option('--value <value>', 'the value (prefer stdin: it stays out of the shell history)')
    .option('--description <text>')
    .option('--allow-deployment <id-or-flow/name>', 'a deployment whose runs may read it (repeatable)', collect, [])
    .option('--allow-work-pool <name>', 'a work pool whose runs may read it (repeatable)', collect, [])
    .option('--allow-automation <id-or-name>', 'an automation whose actions may use it (repeatable)', collect, [])
    .action(async (name: string, opts: { value?: string; description?: string; allowDeployment: string[]; allowWorkPool: string[]; allowAutomation: string[] }) => {
      const value = opts.value ?? (await readStdin());
      const grantsGiven = opts.allowDeployment.length + opts.allowWorkPool.length + opts.allowAutomation.length > 0;
      const allowed: SecretGrants = { deployments: opts.allowDeployment, work_pools: opts.allowWorkPool, automations: opts.allowAutomation };
      const parsed = SecretInputSchema.safeParse({ name, value, description: opts.description, allowed });
      if (!parsed.success) throw ValidationError.fromIssues('secret', parsed.error.issues);
      const { secret: view, created } = await withSecrets((s) =>
        s.put(name, { value: parsed.data.value, ...(opts.description !== undefined ? { description: opts.description } : {}), ...(grantsGiven ? { allowed } : {}) }),
      );
      process.stdout.write(`${created ? 'created' : 'changed'} secret ${view.name}\n`);
    });

  secret
    .command('ls')
    .description('list secrets: name, who may use them, when last used')
    .option('--json', 'as JSON')
    .action(async (opts: { json?: boolean }) => {
      const items = await withSecrets((s) => s.list());
      if (opts.json) return void process.stdout.write(`${JSON.stringify(items, null, 2)}\n`);
      for (const s of items) {
        const who = [...s.allowed.deployments.map((d) => `deployment:${d}`), ...s.allowed.work_pools.map((p) => `work-pool:${p}`), ...s.allowed.automations.map((a) => `automation:${a}`)];
        process.stdout.write(`${s.name.padEnd(30)} ${(s.last_used_at ?? 'never used').padEnd(26)} ${who.join(', ') || '(nobody)'}\n`);
      }
    });

  secret
    .command('rm')
    .description('delete a secret')
    .argument('<name>')
    .action(async (name: string) => {
      await withSecrets((s) => s.delete(name));
      process.stdout.write(`deleted secret ${name}\n`);
    });

  secret
    .command('rotate')
    .description('re-encrypt every secret with REFLEX_SECRETS_KEY, reading old ones with REFLEX_SECRETS_PREVIOUS_KEYS')
    .action(async () => {
      const { reencrypted, unreadable } = await withSecrets((s) => s.rotate());
      process.stdout.write(`re-encrypted ${reencrypted.length} secret(s)${reencrypted.length ? `: ${reencrypted.join(', ')}` : ''}\n`);
      if (unreadable.length) fail(`${unreadable.length} secret(s) use a key that is neither REFLEX_SECRETS_KEY nor in REFLEX_SECRETS_PREVIOUS_KEYS: ${unreadable.join(', ')}`);
    });
}
