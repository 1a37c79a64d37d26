import { readdir, readFile, stat } from 'node:fs/promises';
import { basename, join } from 'node:path';
import { inTransaction, type Pool } from '../../infra/db.ts';
import { ValidationError, type FieldIssue } from '../../core/errors.ts';
import type { AutomationDocument } from '../../schemas/automation.ts';
import { findAutomationByName, insertAutomation, replaceAutomation } from './repository.ts';
import { automationIssues } from './engine/validate.ts';

/**
 * Applies automation files (one JSON document each): every file is read and validated first, and only
 * when all are valid are they upserted by name in one transaction, so a bad file writes nothing.
 */

export interface ApplyReport {
  created: string[];
  changed: string[];
  unchanged: string[];
}

export async function automationFiles(path: string): Promise<string[]> {
  const info = await stat(path).catch(() => null);
  if (!info) throw new ValidationError(`${path}: no such file or directory`, [{ path: '', message: `${path} does not exist` }]);
  if (info.isFile()) return [path];
  return (await readdir(path))
    .filter((f) => f.endsWith('.json'))
    .sort()
    .map((f) => join(path, f));
}

export async function readAutomationFiles(path: string): Promise<{ file: string; doc: AutomationDocument }[]> {
  const files = await automationFiles(path);
  const docs: { file: string; doc: AutomationDocument }[] = [];
  const issues: FieldIssue[] = [];
  for (const file of files) {
    let input: unknown;
    try {
      input = JSON.parse(await readFile(file, 'utf8'));
    } catch (err) {
      issues.push({ path: `${basename(file)}`, message: `not valid JSON: ${(err as Error).message}` });
      continue;
    }
    const r = automationIssues(input);
    if (r.doc) docs.push({ file, doc: r.doc });
    else issues.push(...r.issues.map((i) => ({ path: `${basename(file)}: ${i.path || '(root)'}`, message: i.message })));
  }
  const seen = new Map<string, string>();
  for (const { file, doc } of docs) {
    const other = seen.get(doc.name);
    if (other) issues.push({ path: `${basename(file)}: name`, message: `"${doc.name}" is also the name in ${basename(other)}` });
    seen.set(doc.name, file);
  }
  if (issues.length > 0) {
    throw new ValidationError(`nothing applied; invalid automation files: ${issues.map((i) => `${i.path}: ${i.message}`).join('; ')}`, issues);
  }
  return docs;
}

export async function applyAutomationFiles(pg: Pool, path: string): Promise<ApplyReport> {
  const docs = await readAutomationFiles(path);
  return inTransaction(pg, async (client) => {
    const report: ApplyReport = { created: [], changed: [], unchanged: [] };
    // Replicas starting together apply the same files: one at a time, the later ones find them unchanged.
    await client.query(`SELECT pg_advisory_xact_lock(hashtext('reflex-automations-apply'))`);
    for (const { doc } of docs) {
      const existing = await findAutomationByName(client, doc.name);
      if (!existing) {
        await insertAutomation(client, doc);
        report.created.push(doc.name);
        continue;
      }
      const { id: _id, created: _c, updated: _u, ...current } = existing;
      if (canonical(current) === canonical(doc)) {
        report.unchanged.push(doc.name);
        continue;
      }
      await replaceAutomation(client, existing.id, doc);
      report.changed.push(doc.name);
    }
    return report;
  });
}

/** JSON with sorted keys, so documents compare equal whatever order Postgres stored them in. */
export function canonical(value: unknown): string {
  return JSON.stringify(value, (_k, v: unknown) =>
    v && typeof v === 'object' && !Array.isArray(v)
      ? Object.fromEntries(Object.entries(v as Record<string, unknown>).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)))
      : v,
  );
}
