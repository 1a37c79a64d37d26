import { ENGINE_COMMAND_MODULES, ENGINE_COMMAND_NAMES, projectRoot, runCli, type Loaders, type Register } from './program.ts';

/**
 * Entry of the compiled `reflex` binary (built by scripts/build-cli.mjs into dist/cli/, never committed).
 * HTTP commands are in the bundle. Engine commands run the services, which load TypeScript (the user's
 * flows among it), so they register tsx in this process first and import their sources: one process
 * either way, and a command that only reads the API pays for neither tsx nor the engine.
 */

let tsx: Promise<unknown> | undefined;
const engine: Loaders = Object.fromEntries(
  ENGINE_COMMAND_NAMES.map((name) => [
    name,
    async (): Promise<Register> => {
      tsx ??= import('tsx/esm/api').then((m) => m.register());
      await tsx;
      const [file, exported] = ENGINE_COMMAND_MODULES[name];
      const mod = (await import(new URL(`cli/commands/${file}`, projectRoot()).href)) as Record<string, Register>;
      return mod[exported];
    },
  ]),
);

await runCli(process.argv, engine);
