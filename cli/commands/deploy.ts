import type { Command } from 'commander';
import { loadConfig } from '../../core/config.ts';
import { ValidationError } from '../../core/errors.ts';
import { createLogger } from '../../core/log.ts';
import { readJsonFiles } from '../../infra/json-files.ts';
import { openRuntime } from '../../infra/runtime.ts';
import { deleteConcurrencyLimit, listConcurrencyLimits, setConcurrencyLimit } from '../../modules/runs/index.ts';
import { DeploymentDeclarationSchema, type DeploymentDeclaration } from '../../schemas/deployment.ts';
import { createModules } from '../../services/modules.ts';
import { fail } from '../output.ts';

/**
 * Reads every deployment declared in a file or a directory of `.json` files, validating all of them
 * before anything is written; a problem names the file and the field.
 */
export async function readDeploymentDeclarations(path: string): Promise<DeploymentDeclaration[]> {
  const out: DeploymentDeclaration[] = [];
  const seen = new Map<string, string>();
  for (const f of await readJsonFiles(path, 'deployment')) {
    if (!f.ok) fail(`${f.shown}: ${f.error}`);
    const doc = f.value;
    const wrapped = doc && typeof doc === 'object' && !Array.isArray(doc) && 'deployments' in doc && !('name' in doc);
    const items: unknown = Array.isArray(doc) ? doc : wrapped ? (doc as { deployments: unknown }).deployments : [doc];
    if (!Array.isArray(items)) fail(`${f.shown}: deployments: must be a list`);
    items.forEach((item: unknown, i: number) => {
      const prefix: Array<string | number> = Array.isArray(doc) ? [i] : wrapped ? ['deployments', i] : [];
      const parsed = DeploymentDeclarationSchema.safeParse(item);
      if (!parsed.success) fail(`${f.shown}: ${ValidationError.fromIssues('deployment', parsed.error.issues, prefix).message}`);
      const previous = seen.get(parsed.data.name);
      if (previous) fail(`${f.shown}: deployment "${parsed.data.name}" is also declared in ${previous}`);
      seen.set(parsed.data.name, f.shown);
      out.push(parsed.data);
    });
  }
  return out;
}

export function registerDeploy(program: Command): void {
  program
    .command('deploy')
    .description('create or update deployments declared in a JSON file or a directory of them (idempotent on name)')
    .argument('<path>', 'a .json file or a directory of .json files')
    .action(async (path: string) => {
      const declarations = await readDeploymentDeclarations(path);
      const config = loadConfig();
      const rt = await openRuntime(config, createLogger({ level: 'warn' }));
      try {
        const report = await createModules(rt).runs.deployments.apply(declarations);
        for (const r of report) process.stdout.write(`${r.outcome.padEnd(10)} ${r.name}  (${r.id})\n`);
        const count = (o: string) => report.filter((r) => r.outcome === o).length;
        process.stdout.write(`${report.length} deployment(s): ${count('created')} created, ${count('updated')} updated, ${count('unchanged')} unchanged\n`);
      } finally {
        await rt.close();
      }
    });

  const limits = program.command('concurrency-limit').description('global concurrency limits used by `concurrency(name)` in flows');
  limits
    .command('set')
    .argument('<name>')
    .argument('<limit>', 'slots available at once (0 blocks every holder)')
    .action(async (name: string, limitText: string) => {
      const limit = Number(limitText);
      if (!Number.isInteger(limit) || limit < 0) fail(`limit must be a whole number >= 0, got "${limitText}"`);
      await withRedisRuntime(async (rt) => {
        const info = await setConcurrencyLimit(rt.redis, rt.names, name, limit);
        process.stdout.write(`concurrency limit "${info.name}" = ${info.limit} (${info.active_slots} slots in use)\n`);
      });
    });
  limits.command('ls').action(async () => {
    await withRedisRuntime(async (rt) => {
      const all = await listConcurrencyLimits(rt.redis, rt.names);
      if (all.length === 0) process.stdout.write('no concurrency limits\n');
      for (const l of all) process.stdout.write(`${l.name.padEnd(30)} ${l.active_slots}/${l.limit}\n`);
    });
  });
  limits
    .command('delete')
    .argument('<name>')
    .action(async (name: string) => {
      await withRedisRuntime(async (rt) => {
        if (!(await deleteConcurrencyLimit(rt.redis, rt.names, name))) fail(`no concurrency limit named "${name}"`);
        process.stdout.write(`concurrency limit "${name}" deleted\n`);
      });
    });
}

async function withRedisRuntime(fn: (rt: Awaited<ReturnType<typeof openRuntime>>) => Promise<void>): Promise<void> {
  const rt = await openRuntime(loadConfig(), createLogger({ level: 'warn' }), { prepare: false });
  try {
    await fn(rt);
  } finally {
    await rt.close();
  }
}
