import { PayloadTooLargeError, ValidationError, type FieldIssue } from '../../core/errors.ts';
import { ARTIFACT_KEY_PATTERN, type ArtifactType } from '../../schemas/artifact.ts';

/**
 * Checks what a flow hands over as an artifact, before anything is stored, so bad input fails at the call
 * with the reason. Pure: the SDK calls it in the flow's process, the store calls it again (any caller).
 */

/** The stored `data` of one artifact (JSON) may not exceed this: a dashboard page must be able to show it. */
export const ARTIFACT_MAX_BYTES = 1024 * 1024;
export const ARTIFACT_DESCRIPTION_MAX = 5000;
/** A table wider than this is not readable as a table. */
export const ARTIFACT_MAX_COLUMNS = 500;

export type ArtifactContent =
  | { type: 'table'; table: unknown }
  | { type: 'markdown'; markdown: unknown }
  | { type: 'link'; url: unknown; text?: unknown }
  | { type: 'progress'; progress: unknown };

const invalid = (what: string, issues: FieldIssue[]) => new ValidationError(`invalid ${what} artifact: ${issues.map((i) => `${i.path}: ${i.message}`).join('; ')}`, issues);

export function checkKey(key: unknown): string | null {
  if (key === undefined || key === null) return null;
  if (typeof key !== 'string' || !ARTIFACT_KEY_PATTERN.test(key)) {
    throw new ValidationError(`invalid artifact key ${JSON.stringify(key)?.slice(0, 120)}: use lowercase letters, digits and "-" (at most 100, not starting or ending with "-")`, [
      { path: 'key', message: 'use lowercase letters, digits and "-" (at most 100, not starting or ending with "-")' },
    ]);
  }
  return key;
}

export function checkDescription(description: unknown): string | null {
  if (description === undefined || description === null) return null;
  if (typeof description !== 'string') throw new ValidationError('invalid artifact description: must be a string', [{ path: 'description', message: 'must be a string' }]);
  if (description.length > ARTIFACT_DESCRIPTION_MAX) {
    throw new PayloadTooLargeError(`artifact description is ${description.length} characters; at most ${ARTIFACT_DESCRIPTION_MAX}`, [{ path: 'description', message: `at most ${ARTIFACT_DESCRIPTION_MAX} characters` }]);
  }
  return description;
}

/** The `data` to store for a content, or an error naming the field at fault. */
export function artifactData(content: ArtifactContent): Record<string, unknown> {
  const data = shape(content);
  const text = jsonText(data, content.type);
  const bytes = Buffer.byteLength(text);
  if (bytes > ARTIFACT_MAX_BYTES) {
    throw new PayloadTooLargeError(`${content.type} artifact is ${bytes} bytes as JSON; at most ${ARTIFACT_MAX_BYTES}`, [{ path: content.type, message: `at most ${ARTIFACT_MAX_BYTES} bytes as JSON` }]);
  }
  return JSON.parse(text) as Record<string, unknown>;
}

export function checkProgress(progress: unknown): number {
  if (typeof progress !== 'number' || !Number.isFinite(progress) || progress < 0 || progress > 100) {
    throw invalid('progress', [{ path: 'progress', message: 'must be a number from 0 to 100' }]);
  }
  return progress;
}

function shape(content: ArtifactContent): Record<string, unknown> {
  switch (content.type) {
    case 'table':
      return tableData(content.table);
    case 'markdown':
      if (typeof content.markdown !== 'string') throw invalid('markdown', [{ path: 'markdown', message: 'must be a string' }]);
      return { markdown: content.markdown };
    case 'link':
      return linkData(content.url, content.text);
    case 'progress':
      return { progress: checkProgress(content.progress) };
  }
}

/** A list of records (`[{a: 1}, {a: 2}]`) or a record of columns (`{a: [1, 2]}`) with equal lengths. */
function tableData(table: unknown): Record<string, unknown> {
  if (Array.isArray(table)) {
    const bad = table.findIndex((row) => !isRecord(row));
    if (bad >= 0) throw invalid('table', [{ path: `table[${bad}]`, message: 'a table is a list of records ({ column: value }) or a record of columns ({ column: [values] }); this row is not a record' }]);
    const columns = new Set<string>();
    for (const row of table as Record<string, unknown>[]) for (const c of Object.keys(row)) columns.add(c);
    if (columns.size > ARTIFACT_MAX_COLUMNS) throw invalid('table', [{ path: 'table', message: `at most ${ARTIFACT_MAX_COLUMNS} columns, got ${columns.size}` }]);
    // jsonb keeps an object's keys in its own order (shortest first), not the author's: the order is kept apart.
    return { rows: table, column_order: [...columns] };
  }
  if (isRecord(table)) {
    const entries = Object.entries(table);
    if (entries.length > ARTIFACT_MAX_COLUMNS) throw invalid('table', [{ path: 'table', message: `at most ${ARTIFACT_MAX_COLUMNS} columns, got ${entries.length}` }]);
    const notList = entries.find(([, v]) => !Array.isArray(v));
    if (notList) throw invalid('table', [{ path: `table.${notList[0]}`, message: 'a record of columns maps each column to a list of values' }]);
    const lengths = new Set(entries.map(([, v]) => (v as unknown[]).length));
    if (lengths.size > 1) throw invalid('table', [{ path: 'table', message: `every column must have the same number of values, got ${[...lengths].join(', ')}` }]);
    return { columns: table, column_order: entries.map(([name]) => name) };
  }
  throw invalid('table', [{ path: 'table', message: 'a table is a list of records ({ column: value }) or a record of columns ({ column: [values] })' }]);
}

/** Only http(s) links: a `javascript:` or `data:` URL in the dashboard would run in the viewer's session. */
function linkData(url: unknown, text: unknown): Record<string, unknown> {
  if (typeof url !== 'string') throw invalid('link', [{ path: 'url', message: 'must be a string' }]);
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    throw invalid('link', [{ path: 'url', message: 'must be an absolute http(s) URL' }]);
  }
  if (parsed.protocol !== 'http:' && parsed.protocol !== 'https:') throw invalid('link', [{ path: 'url', message: `must be http or https, not ${parsed.protocol}` }]);
  if (url.length > 4096) throw invalid('link', [{ path: 'url', message: 'at most 4096 characters' }]);
  if (text !== undefined && text !== null && typeof text !== 'string') throw invalid('link', [{ path: 'text', message: 'must be a string' }]);
  return { url: parsed.href, text: typeof text === 'string' ? text : null };
}

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** JSON of the data; a value JSON cannot hold (bigint, a cycle) is refused rather than silently changed. */
function jsonText(data: Record<string, unknown>, type: ArtifactType): string {
  try {
    return JSON.stringify(data);
  } catch (err) {
    throw invalid(type, [{ path: type, message: `must be JSON-serialisable (${err instanceof Error ? err.message : String(err)})` }]);
  }
}
