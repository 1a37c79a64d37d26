import { readdir, readFile, stat } from 'node:fs/promises';
import { join, relative } from 'node:path';
import { ValidationError } from '../core/errors.ts';

/** One JSON file read: its parsed value, or why it does not parse. `shown` is the path as a user would type it. */
export type JsonFile = { file: string; shown: string } & ({ ok: true; value: unknown } | { ok: false; error: string });

/**
 * Reads a JSON file, or every `*.json` file of a directory (sorted by name), as automations and
 * deployments are declared. A path that does not exist, or a directory without JSON files, is a
 * ValidationError naming it.
 */
export async function readJsonFiles(path: string, what: string): Promise<JsonFile[]> {
  const info = await stat(path).catch(() => null);
  if (!info) throw new ValidationError(`${path}: no such file or directory`, [{ path: '', message: `${path} does not exist` }]);
  const files = info.isFile()
    ? [path]
    : (await readdir(path))
        .filter((f) => f.endsWith('.json'))
        .sort()
        .map((f) => join(path, f));
  if (files.length === 0) throw new ValidationError(`no .json ${what} files in "${path}"`, [{ path: '', message: `${path} holds no .json file` }]);
  return Promise.all(
    files.map(async (file): Promise<JsonFile> => {
      const shown = relative(process.cwd(), file) || file;
      try {
        return { file, shown, ok: true, value: JSON.parse(await readFile(file, 'utf8')) };
      } catch (err) {
        return { file, shown, ok: false, error: `not valid JSON: ${(err as Error).message}` };
      }
    }),
  );
}
