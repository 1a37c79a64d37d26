import { probeMachine } from './machine.ts';
import { printResult, type BenchResult } from './report.ts';

/**
 * `npm run bench -- <name> [--json] [options]`: each benchmark lives in bench/<name>.ts and exports
 * `run()`, which gets the arguments after the name (those of its own options, see each bench).
 */
const BENCHMARKS = ['ingest', 'automations', 'webhooks', 'flows', 'e2e', 'dashboard'] as const;

const args = process.argv.slice(2);
const json = args.includes('--json');
const name = args.find((a) => !a.startsWith('--'));
if (!name || !(BENCHMARKS as readonly string[]).includes(name)) {
  process.stderr.write(`usage: npm run bench -- <${BENCHMARKS.join('|')}> [--json] [options]\n`);
  process.exit(2);
}
const mod = (await import(`./${name}.ts`)) as { run: (opts: { json: boolean; args: string[] }) => Promise<BenchResult> };
const rest = args.filter((a, i) => a !== '--json' && i !== args.indexOf(name));
// Before the bench, while the machine is quiet: what a hop between two processes costs here.
const machine = await probeMachine();
const result = await mod.run({ json, args: rest });
result.notes = { ...result.notes, machine };
printResult(result, json);
process.exit(0);
