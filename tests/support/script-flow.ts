// A plain script using the SDK, run as a child process by tests/flows.script.test.ts.
import { flow, getRunLogger, task } from 'reflex/sdk';

const shout = task({ name: 'shout' }, async (word: string) => word.toUpperCase());

export const greet = flow({ name: 'script-greet', tags: ['script'] }, async (params: { name: string }) => {
  getRunLogger().info({ name: params.name }, 'greeting');
  return `hello ${await shout(params.name)}`;
});

const result = await greet({ name: process.argv[2] ?? 'world' });
process.stdout.write(`RESULT ${result}\n`);
