import { existsSync } from 'node:fs';
import { isAbsolute, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { ConfigError } from '../../core/errors.ts';
import { isFlow, type Flow } from '../../sdk/flow.ts';

export type AnyFlow = Flow<unknown[], unknown>;

/**
 * Loads a flows module (`.ts` or `.js`, relative to the working directory) and registers every flow it
 * exports by its name, including flows inside an exported array or object (e.g. `export default [etl]`).
 * Two different flows with one name is an error: a deployment must know which one it runs.
 */
export async function loadFlowsModule(path: string): Promise<Map<string, AnyFlow>> {
  const file = isAbsolute(path) ? path : resolve(process.cwd(), path);
  if (!existsSync(file)) throw new ConfigError(`flows module "${path}" not found (resolved to ${file}); set REFLEX_FLOWS or --flows`);
  let mod: Record<string, unknown>;
  try {
    mod = (await import(pathToFileURL(file).href)) as Record<string, unknown>;
  } catch (err) {
    throw new ConfigError(`flows module "${path}" failed to load: ${err instanceof Error ? err.message : String(err)}`);
  }
  return collectFlows(mod, path);
}

export function collectFlows(mod: Record<string, unknown>, label = 'module'): Map<string, AnyFlow> {
  const flows = new Map<string, AnyFlow>();
  const add = (value: unknown, exportName: string) => {
    if (!isFlow(value)) return;
    const existing = flows.get(value.flowName);
    if (existing && existing !== value) throw new ConfigError(`flows module "${label}": two different flows are named "${value.flowName}" (export ${exportName})`);
    flows.set(value.flowName, value);
  };
  for (const [name, value] of Object.entries(mod)) {
    add(value, name);
    if (Array.isArray(value)) value.forEach((v, i) => add(v, `${name}[${i}]`));
    else if (value && typeof value === 'object') for (const [k, v] of Object.entries(value)) add(v, `${name}.${k}`);
  }
  return flows;
}
