import { printResult, type BenchResult } from './report.ts';

/** `npm run bench -- <name> [--json]`: each benchmark lives in bench/<name>.ts and exports `run()`. */
const BENCHMARKS = ['ingest', 'automations', 'webhooks', 'flows', 'dashboard'] as const;

const args = process.argv.slice(2);
const json = args.includes('--json');
const name = args.find((a) => !a.startsWith('--'));
if (!name || !(BENCHMARKS as readonly string[]).includes(name)) {
  process.stderr.write(`usage: npm run bench -- <${BENCHMARKS.join('|')}> [--json]\n`);
  process.exit(2);
}
const mod = (await import(`./${name}.ts`)) as { run: (opts: { json: boolean }) => Promise<BenchResult> };
const result = await mod.run({ json });
printResult(result, json);
process.exit(0);
