import { basename } from 'node:path';
import { inTransaction, type Pool } from '../../infra/db.ts';
import { readJsonFiles } from '../../infra/json-files.ts';
import { describeIssues, ValidationError, type FieldIssue } from '../../core/errors.ts';
import { canonicalJson } from '../../core/json.ts';
import type { AutomationDocument } from '../../schemas/automation.ts';
import { findAutomationByName, insertAutomation, replaceAutomation } from './repository.ts';
import { automationIssues } from './engine/validate.ts';
import { restoreSecrets } from './secrets.ts';

/**
 * Applies automation files (one JSON document each): every file is read and validated first, and only
 * when all are valid are they upserted by name in one transaction, so a bad file writes nothing.
 */

export interface ApplyReport {
  created: string[];
  changed: string[];
  unchanged: string[];
}

export async function readAutomationFiles(path: string): Promise<{ file: string; doc: AutomationDocument }[]> {
  const docs: { file: string; doc: AutomationDocument }[] = [];
  const issues: FieldIssue[] = [];
  for (const f of await readJsonFiles(path, 'automation')) {
    if (!f.ok) {
      issues.push({ path: basename(f.file), message: f.error });
      continue;
    }
    const r = automationIssues(f.value);
    if (r.doc) docs.push({ file: f.file, doc: r.doc });
    else issues.push(...r.issues.map((i) => ({ path: `${basename(f.file)}: ${i.path || '(root)'}`, message: i.message })));
  }
  const seen = new Map<string, string>();
  for (const { file, doc } of docs) {
    const other = seen.get(doc.name);
    if (other) issues.push({ path: `${basename(file)}: name`, message: `"${doc.name}" is also the name in ${basename(other)}` });
    seen.set(doc.name, file);
  }
  if (issues.length > 0) {
    throw new ValidationError(`nothing applied; invalid automation files: ${describeIssues(issues)}`, issues);
  }
  return docs;
}

export async function applyAutomationFiles(pg: Pool, path: string): Promise<ApplyReport> {
  const docs = await readAutomationFiles(path);
  return inTransaction(pg, async (client) => {
    const report: ApplyReport = { created: [], changed: [], unchanged: [] };
    // Replicas starting together apply the same files: one at a time, the later ones find them unchanged.
    await client.query(`SELECT pg_advisory_xact_lock(hashtext('reflex-automations-apply'))`);
    for (const declared of docs) {
      let doc = declared.doc;
      const existing = await findAutomationByName(client, doc.name);
      if (!existing) {
        await insertAutomation(client, restoreSecrets(doc, null));
        report.created.push(doc.name);
        continue;
      }
      const { id: _id, created: _c, updated: _u, ...current } = existing;
      doc = restoreSecrets(doc, current);
      if (canonicalJson(current) === canonicalJson(doc)) {
        report.unchanged.push(doc.name);
        continue;
      }
      await replaceAutomation(client, existing.id, doc);
      report.changed.push(doc.name);
    }
    return report;
  });
}
