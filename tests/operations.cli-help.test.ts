import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { describe, it } from 'node:test';
import { promisify } from 'node:util';
import { Command } from 'commander';
import { CLIENT_COMMANDS, ENGINE_COMMAND_MODULES, ENGINE_COMMAND_NAMES, ENGINE_COMMAND_SUMMARIES, type Register } from '../cli/program.ts';

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
    // `start` names its service groups in its own help; its summary says the same in general words.
    for (const name of ENGINE_COMMAND_NAMES.filter((n) => n !== 'start')) {
      const [file, exported] = ENGINE_COMMAND_MODULES[name];
      const program = new Command('reflex');
      ((await import(`../cli/commands/${file}`)) as Record<string, Register>)[exported](program);
      const command = program.commands.find((c) => c.name() === name);
      assert.ok(command, `${name} is registered by its module`);
      assert.equal(ENGINE_COMMAND_SUMMARIES[name as keyof typeof ENGINE_COMMAND_SUMMARIES], command.description(), `summary of ${name}`);
    }
  });
});
