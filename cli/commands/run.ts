import type { Command } from 'commander';
import { fail } from '../output.ts';
import { call } from './events.ts';

/** `reflex run resume <id> --input '{...}'`: resume a paused or suspended flow run through the API (flow authors, issue 13). */
export function registerRun(program: Command): void {
  const run = program.command('run').description('act on flow runs through the API (REFLEX_API_URL)');
  run
    .command('resume')
    .description('resume a paused or suspended flow run; the input is checked against the schema the flow asked for')
    .argument('<id>', 'flow run id')
    .option('--input <json>', 'the input, a JSON object', '{}')
    .action(async (id: string, opts: { input: string }) => {
      let input: unknown;
      try {
        input = JSON.parse(opts.input);
      } catch (err) {
        fail(`--input is not valid JSON: ${(err as Error).message}`);
      }
      if (typeof input !== 'object' || input === null || Array.isArray(input)) fail('--input must be a JSON object, e.g. \'{"approved": true}\'');
      const res = await call('POST', `/api/flow-runs/${encodeURIComponent(id)}/resume`, { input });
      const body = (await res.json()) as { id: string; state: { type: string; name: string } };
      process.stdout.write(`resumed ${body.id}: ${body.state.type}/${body.state.name}\n`);
    });
}
