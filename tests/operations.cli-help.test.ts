import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { describe, it } from 'node:test';
import { promisify } from 'node:util';
import { Command } from 'commander';
import { CLIENT_COMMANDS, ENGINE_COMMAND_NAMES, ENGINE_COMMAND_SUMMARIES, type Register } from '../cli/program.ts';

/**
 * `reflex --help` lists every command without loading the engine's (which registers tsx and imports the
 * services: seconds), so the engine commands are listed by summaries kept in cli/program.ts; these must
 * say what each command's own help says.
 */

const run = promisify(execFile);

describe('reflex --help', () => {
  it('lists every command, client and engine, and exits 0', async () => {
    const { stdout } = await run(process.execPath, ['bin/reflex.js', '--help']);
    for (const name of [...Object.keys(CLIENT_COMMANDS).filter((n) => n !== 'run'), ...ENGINE_COMMAND_NAMES]) assert.match(stdout, new RegExp(`^  ${name}\\b`, 'm'), `${name} listed`);
  });

  it('summarises each engine command as its own help describes it', async () => {
    const registers: Record<string, () => Promise<Register>> = {
      reset: async () => (await import('../cli/commands/reset.ts')).registerReset,
      automation: async () => (await import('../cli/commands/automation.ts')).registerAutomation,
      deploy: async () => (await import('../cli/commands/deploy.ts')).registerDeploy,
      'concurrency-limit': async () => (await import('../cli/commands/deploy.ts')).registerDeploy,
      worker: async () => (await import('../cli/commands/worker.ts')).registerWorker,
      secret: async () => (await import('../cli/commands/secret.ts')).registerSecret,
      variable: async () => (await import('../cli/commands/variable.ts')).registerVariable,
    };
    // `start` names its service groups in its own help; its summary says the same in general words.
    assert.deepEqual(Object.keys(registers).sort(), ENGINE_COMMAND_NAMES.filter((n) => n !== 'start').sort());
    for (const [name, load] of Object.entries(registers)) {
      const program = new Command('reflex');
      (await load())(program);
      const command = program.commands.find((c) => c.name() === name);
      assert.ok(command, `${name} is registered by its module`);
      assert.equal(ENGINE_COMMAND_SUMMARIES[name as keyof typeof ENGINE_COMMAND_SUMMARIES], command.description(), `summary of ${name}`);
    }
  });
});
