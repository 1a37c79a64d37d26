import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import type { Command } from 'commander';
import { loadConfig } from '../../core/config.ts';
import { toFieldIssues } from '../../core/errors.ts';
import { createLogger } from '../../core/log.ts';
import { openRuntime } from '../../infra/runtime.ts';
import { DeploymentDeclarationSchema, type DeploymentDeclaration } from '../../schemas/deployment.ts';
import { applyDeployments } from '../../modules/runs/deployments.ts';
import { deleteConcurrencyLimit, listConcurrencyLimits, setConcurrencyLimit } from '../../modules/runs/concurrency-limits.ts';
import { fail } from '../output.ts';

/**
 * Reads every deployment declared in a file or a directory of `.json` files, validating all of them
 * before anything is written; a problem names the file and the field.
 */
export function readDeploymentDeclarations(path: string): DeploymentDeclaration[] {
  let files: string[];
  try {
    files = statSync(path).isDirectory()
      ? readdirSync(path).filter((f) => f.endsWith('.json')).sort().map((f) => join(path, f))
      : [path];
  } catch {
    fail(`cannot read "${path}": no such file or directory`);
  }
  if (files.length === 0) fail(`no .json deployment files in "${path}"`);
  const out: DeploymentDeclaration[] = [];
  const seen = new Map<string, string>();
  for (const file of files) {
    const shown = relative(process.cwd(), file) || file;
    let doc: unknown;
    try {
      doc = JSON.parse(readFileSync(file, 'utf8'));
    } catch (err) {
      fail(`${shown}: not valid JSON (${(err as Error).message})`);
    }
    const wrapped = doc && typeof doc === 'object' && !Array.isArray(doc) && 'deployments' in doc && !('name' in doc);
    const items: unknown[] = Array.isArray(doc) ? doc : wrapped ? ((doc as { deployments: unknown }).deployments as unknown[]) : [doc];
    if (!Array.isArray(items)) fail(`${shown}: deployments: must be a list`);
    items.forEach((item, i) => {
      const prefix: Array<string | number> = Array.isArray(doc) ? [i] : wrapped ? ['deployments', i] : [];
      const parsed = DeploymentDeclarationSchema.safeParse(item);
      if (!parsed.success) {
        const issues = toFieldIssues(parsed.error.issues, prefix);
        fail(`${shown}: invalid deployment: ${issues.map((x) => `${x.path || '(root)'}: ${x.message}`).join('; ')}`);
      }
      const previous = seen.get(parsed.data.name);
      if (previous) fail(`${shown}: deployment "${parsed.data.name}" is also declared in ${previous}`);
      seen.set(parsed.data.name, shown);
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
      const declarations = readDeploymentDeclarations(path);
      const config = loadConfig();
      const rt = await openRuntime(config, createLogger({ level: 'warn' }));
      try {
        const report = await applyDeployments(rt, declarations);
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
