import { ERROR_CATALOGUE } from './errors.ts';

/** The document listing the error catalogue; its table sits between these markers. */
export const ERRORS_DOC = 'docs/errors.md';
const START = '<!-- generated: error catalogue -->';
const END = '<!-- end generated -->';

/** The errors document with its table made from the catalogue (the rest of the text kept as written). */
export function errorCatalogueDoc(current: string): string {
  const rows = Object.entries(ERROR_CATALOGUE).map(([code, entry]) => {
    const status = 'status' in entry ? String(entry.status) : '—';
    return `| \`${code}\` | ${status} | ${entry.action.replace(/\|/g, '\\|')} |`;
  });
  const table = ['| code | HTTP status | what to do |', '|---|---|---|', ...rows].join('\n');
  const start = current.indexOf(START);
  const end = current.indexOf(END);
  if (start < 0 || end < start) throw new Error(`${ERRORS_DOC} lacks the markers ${START} … ${END}`);
  return `${current.slice(0, start + START.length)}\n${table}\n${current.slice(end)}`;
}
