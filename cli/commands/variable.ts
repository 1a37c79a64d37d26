import type { Command } from 'commander';
import { loadConfig } from '../../core/config.ts';
import { createLogger } from '../../core/log.ts';
import { ValidationError } from '../../core/errors.ts';
import type { Pool } from '../../infra/db.ts';
import { openRuntime } from '../../infra/runtime.ts';
import { deleteVariable, getVariable, listVariables, putVariable } from '../../modules/variables/index.ts';
import { VariableInputSchema } from '../../schemas/secret.ts';
import { fail } from '../output.ts';

/** `reflex variable set|get|ls|rm`: named JSON values in the namespace's database. */
// Errors only: these commands print data (`variable get` prints JSON) on stdout.
async function withPg<T>(fn: (pg: Pool) => Promise<T>): Promise<T> {
  const rt = await openRuntime(loadConfig(), createLogger({ level: 'error' }));
  try {
    return await fn(rt.pg);
  } finally {
    await rt.close();
  }
}

const collect = (v: string, all: string[]) => [...all, v];

export function registerVariable(program: Command): void {
  const variable = program.command('variable').description('manage variables (named JSON values for flows and automation templates)');

  variable
    .command('set')
    .description('create or replace a variable; the value is JSON (a bare word is taken as a string)')
    .argument('<name>')
    .argument('<value>')
    .option('--tag <tag>', 'a tag (repeatable)', collect, [])
    .action(async (name: string, raw: string, opts: { tag: string[] }) => {
      let value: unknown;
      try {
        value = JSON.parse(raw);
      } catch {
        value = raw;
      }
      const parsed = VariableInputSchema.safeParse({ name, value, tags: opts.tag });
      if (!parsed.success) throw ValidationError.fromIssues('variable', parsed.error.issues);
      const { created } = await withPg((pg) => putVariable(pg, name, parsed.data.value, opts.tag.length ? opts.tag : undefined));
      process.stdout.write(`${created ? 'created' : 'changed'} variable ${name}\n`);
    });

  variable
    .command('get')
    .description("print a variable's JSON value")
    .argument('<name>')
    .action(async (name: string) => {
      const v = await withPg((pg) => getVariable(pg, name));
      process.stdout.write(`${JSON.stringify(v.value, null, 2)}\n`);
    });

  variable
    .command('ls')
    .description('list variables')
    .option('--json', 'as JSON')
    .action(async (opts: { json?: boolean }) => {
      const items = await withPg((pg) => listVariables(pg));
      if (opts.json) return void process.stdout.write(`${JSON.stringify(items, null, 2)}\n`);
      for (const v of items) process.stdout.write(`${v.name.padEnd(30)} ${JSON.stringify(v.value).slice(0, 80)}\n`);
    });

  variable
    .command('rm')
    .description('delete a variable')
    .argument('<name>')
    .action(async (name: string) => {
      if (!name) fail('give a name');
      await withPg((pg) => deleteVariable(pg, name));
      process.stdout.write(`deleted variable ${name}\n`);
    });
}
