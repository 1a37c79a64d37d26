#!/usr/bin/env -S npx tsx
import { ENGINE_COMMAND_MODULES, ENGINE_COMMAND_NAMES, runCli, type Loaders, type Register } from './program.ts';

/**
 * The CLI from its TypeScript sources (`npm run reflex`, tests, development). The `reflex` binary runs
 * the compiled bundle instead (cli/compiled.ts, bin/reflex.js).
 */
const ENGINE: Loaders = Object.fromEntries(
  ENGINE_COMMAND_NAMES.map((name) => [
    name,
    async (): Promise<Register> => {
      const [file, exported] = ENGINE_COMMAND_MODULES[name];
      return ((await import(`./commands/${file}`)) as Record<string, Register>)[exported];
    },
  ]),
);

await runCli(process.argv, ENGINE);
