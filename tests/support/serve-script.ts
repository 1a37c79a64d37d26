import 'reflex/serve';
import { flow } from 'reflex/sdk';

/** A script that serves one flow (tests/authors.serve.test.ts runs it as a child process and sends it SIGINT). */
const greet = flow({ name: 'served-greet' }, async (params: { who: string }) => ({ hello: params.who }));

const handle = await greet.serve({ name: process.env.SERVE_NAME ?? 'served-greet', parameters: { who: 'default' }, concurrency: 2 });
await handle.stopped;
process.stdout.write('served and stopped\n');
