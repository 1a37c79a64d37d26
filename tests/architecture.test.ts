import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { describe, it } from 'node:test';

/**
 * The layout as rules (.dependency-cruiser.cjs): no import cycles, the layers in one direction
 * (schemas < core < infra < modules < services and the SDK < the CLI), modules independent of each other
 * and used only through their index.ts, no service importing another, no file nothing imports.
 */

// The package exports no path to its command; its bin file is where npm installs it.
const cruiser = fileURLToPath(new URL('../node_modules/dependency-cruiser/bin/dependency-cruise.mjs', import.meta.url));
const SOURCES = ['core', 'infra', 'modules', 'schemas', 'services', 'sdk', 'cli', 'flows', 'scripts', 'dashboard'];

describe('architecture', () => {
  it('has no import cycle, no forbidden direction and no orphan', () => {
    const run = spawnSync(process.execPath, [cruiser, '--config', '.dependency-cruiser.cjs', '--output-type', 'err', ...SOURCES], { encoding: 'utf8' });
    assert.equal(run.status, 0, `dependency rules broken:\n${run.stdout}${run.stderr}`);
  });
});
