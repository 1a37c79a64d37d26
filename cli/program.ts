import { readFileSync } from 'node:fs';
import { Command } from 'commander';
import { report } from './output.ts';

export type Register = (program: Command) => void;
export type Loaders = Record<string, () => Promise<Register>>;

/**
 * Commands that only talk to the API over HTTP: compiled into the `reflex` binary's bundle (no TypeScript
 * at run time, so they start fast). Loaded on demand: a process loads only the command it runs.
 */
export const CLIENT_COMMANDS: Loaders = {
  events: async () => (await import('./commands/events.ts')).registerEvents,
  runs: async () => (await import('./commands/runs.ts')).registerRuns,
  run: async () => (await import('./commands/runs.ts')).registerRuns,
  deployments: async () => (await import('./commands/deployments.ts')).registerDeployments,
  automations: async () => (await import('./commands/automations.ts')).registerAutomations,
  deliveries: async () => (await import('./commands/deliveries.ts')).registerDeliveries,
  pools: async () => (await import('./commands/pools.ts')).registerPools,
};

/** Commands that run the engine or open its connections (start, worker, reset, deploy, automation apply). */
export const ENGINE_COMMAND_NAMES = ['start', 'reset', 'automation', 'deploy', 'concurrency-limit', 'worker', 'secret', 'variable'] as const;

/** Where each engine command is registered: its file in cli/commands/ and the function it exports. */
export const ENGINE_COMMAND_MODULES: Record<(typeof ENGINE_COMMAND_NAMES)[number], [file: string, name: string]> = {
  start: ['start.ts', 'registerStart'],
  reset: ['reset.ts', 'registerReset'],
  automation: ['automation.ts', 'registerAutomation'],
  // Registers 'concurrency-limit' too.
  deploy: ['deploy.ts', 'registerDeploy'],
  'concurrency-limit': ['deploy.ts', 'registerDeploy'],
  worker: ['worker.ts', 'registerWorker'],
  // Secrets and variables (issue 13).
  secret: ['secret.ts', 'registerSecret'],
  variable: ['variable.ts', 'registerVariable'],
};

/**
 * What `reflex --help` says of each engine command without loading it: loading one registers tsx and
 * imports the engine (seconds), which a list of commands does not need. `reflex <command> --help` and
 * `reflex help <command>` load the command and show its own help.
 */
export const ENGINE_COMMAND_SUMMARIES: Record<(typeof ENGINE_COMMAND_NAMES)[number], string> = {
  start: 'run the engine: every service (a supervised process per service group), or the services named, in this process',
  reset: 'delete everything a namespace owns: its streams and consumers, queues and Redis keys, its Postgres schema',
  automation: 'manage automations defined as JSON files',
  deploy: 'create or update deployments declared in a JSON file or a directory of them (idempotent on name)',
  'concurrency-limit': 'global concurrency limits used by `concurrency(name)` in flows',
  worker: 'flow-run workers',
  secret: 'manage secrets (encrypted with REFLEX_SECRETS_KEY; values are never shown)',
  variable: 'manage variables (named JSON values for flows and automation templates)',
};

/** The project root: the nearest folder above this file with Reflex's package.json (same from cli/ and from dist/cli/). */
export function projectRoot(from: string | URL = import.meta.url): URL {
  let dir = new URL('.', from);
  for (let i = 0; i < 6; i += 1) {
    try {
      const pkg = JSON.parse(readFileSync(new URL('package.json', dir), 'utf8')) as { name?: string };
      if (pkg.name === 'reflex') return dir;
    } catch {
      /* not here: one level up */
    }
    dir = new URL('..', dir);
  }
  throw new Error('cannot find the Reflex package.json above the CLI');
}

function version(): string {
  return (JSON.parse(readFileSync(new URL('package.json', projectRoot()), 'utf8')) as { version: string }).version;
}

/** Builds the program with the commands the arguments need, runs it, and exits with its code (docs/cli.md). */
export async function runCli(argv: string[], engineCommands: Loaders): Promise<void> {
  const all: Loaders = { ...engineCommands, ...CLIENT_COMMANDS };
  const program = new Command('reflex')
    .description('Reflex: event-driven automation engine and workflow orchestrator')
    .version(version(), '-V, --version', 'print the version')
    .showHelpAfterError()
    .exitOverride();
  // `reflex help <command>` needs that command, as `reflex <command> --help` does.
  const requested = argv[2] === 'help' && argv[3] !== undefined ? argv[3] : argv[2];
  const known = requested !== undefined && Object.hasOwn(all, requested);
  // --version needs no command; a command loads only itself; help and unknown commands list them all,
  // the engine's by their summaries (see ENGINE_COMMAND_SUMMARIES).
  const load = requested === '--version' || requested === '-V' ? [] : known ? [all[requested]] : Object.values(CLIENT_COMMANDS);
  const registered = new Set<Register>();
  for (const loader of load) {
    const register = await loader();
    if (!registered.has(register)) register(program);
    registered.add(register);
  }
  if (!known && requested !== '--version' && requested !== '-V') {
    for (const name of ENGINE_COMMAND_NAMES) if (Object.hasOwn(engineCommands, name)) program.command(name).description(ENGINE_COMMAND_SUMMARIES[name]);
  }
  try {
    await program.parseAsync(argv);
  } catch (err) {
    const code = (err as { code?: string }).code;
    // --help and --version end through exitOverride too: they succeeded.
    if (code === 'commander.helpDisplayed' || code === 'commander.version' || code === 'commander.help') process.exit(0);
    process.exit(report(err));
  }
}
