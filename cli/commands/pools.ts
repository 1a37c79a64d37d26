import type { Command } from 'commander';
import type { WorkPool } from '../../schemas/deployment.ts';
import { callJson } from '../http.ts';
import { printJson, printTable } from '../table.ts';

/** `reflex pools ls`: work pools (GET /api/work-pools). */
export function registerPools(program: Command): void {
  const pools = program.command('pools').description('work pools');
  pools
    .command('ls')
    .description('work pools by name (GET /api/work-pools)')
    .option('--json', 'print the API answer as JSON')
    .action(async (o: { json?: boolean }) => {
      const page = await callJson<{ items: WorkPool[]; next_cursor: string | null }>('GET', '/api/work-pools');
      if (o.json) return printJson(page);
      printTable(
        page.items,
        [
          { head: 'NAME', value: (p) => p.name },
          { head: 'CONCURRENCY', value: (p) => p.concurrency_limit ?? 'unlimited' },
          { head: 'PAUSED', value: (p) => (p.paused ? 'yes' : 'no') },
          { head: 'DESCRIPTION', value: (p) => p.description },
        ],
        'no work pools',
      );
    });
}
