import type { FieldIssue } from '../api.ts';

/** The line of `text` where the last key of a dotted path appears (best effort; the path is shown too). */
export function lineOf(text: string, path: string): number | undefined {
  const keys = path.split('.').filter((k) => k && !/^\[?\d+\]?$/.test(k));
  let from = 0;
  let line: number | undefined;
  for (const k of keys) {
    const at = text.indexOf(`"${k}"`, from);
    if (at < 0) break;
    from = at;
    line = text.slice(0, at).split('\n').length;
  }
  return line;
}

/**
 * A JSON document in a plain textarea (no editor library: the bundle stays small and the text is never
 * interpreted as markup), with each schema error listed at its field path and line.
 */
export function JsonEditor({ id, label, value, onInput, issues, rows = 18 }: { id: string; label: string; value: string; onInput: (v: string) => void; issues: FieldIssue[]; rows?: number }) {
  const errId = `${id}-errors`;
  return (
    <div class="json-editor">
      <label for={id} class="field-label">
        {label}
      </label>
      <textarea
        id={id}
        rows={rows}
        spellcheck={false}
        value={value}
        onInput={(e) => onInput((e.target as HTMLTextAreaElement).value)}
        aria-invalid={issues.length ? 'true' : undefined}
        aria-describedby={issues.length ? errId : undefined}
      />
      {issues.length > 0 && (
        <ul id={errId} class="field-errors" role="alert">
          {issues.map((i) => {
            const line = lineOf(value, i.path);
            return (
              <li key={i.path + i.message} data-path={i.path}>
                <code>{i.path || '(document)'}</code>
                {line ? <span class="muted"> (line {line})</span> : null}: {i.message}
              </li>
            );
          })}
        </ul>
      )}
    </div>
  );
}
