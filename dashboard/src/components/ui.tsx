import type { ComponentChildren } from 'preact';
import { ago, pretty, when } from '../format.ts';

/** Small building blocks of every page. Everything from the server is rendered as text, never as markup. */

export function Time({ iso }: { iso: string | null | undefined }) {
  if (!iso) return <span>—</span>;
  return (
    <time dateTime={iso} title={new Date(iso).toISOString()}>
      {when(iso)} <span class="muted">({ago(iso)})</span>
    </time>
  );
}

/** JSON (or any text) in a scrollable, focusable block: keyboard users can scroll it too. */
export function Json({ value, label }: { value: unknown; label: string }) {
  return (
    <pre class="json" tabIndex={0} role="group" aria-label={label}>
      {pretty(value)}
    </pre>
  );
}

export function ErrorBox({ error }: { error: Error | undefined }) {
  if (!error) return null;
  const issues = (error as { issues?: Array<{ path: string; message: string }> }).issues ?? [];
  return (
    <div class="error" role="alert">
      <strong>Error:</strong> {error.message}
      {issues.length > 0 && (
        <ul>
          {issues.map((i) => (
            <li key={i.path + i.message}>
              <code>{i.path || '(root)'}</code>: {i.message}
            </li>
          ))}
        </ul>
      )}
    </div>
  );
}

export function Loading({ what }: { what: string }) {
  return (
    <p class="muted" role="status">
      Loading {what}…
    </p>
  );
}

export function Empty({ children }: { children: ComponentChildren }) {
  return <p class="empty">{children}</p>;
}

export function Section({ title, children, actions }: { title: string; children: ComponentChildren; actions?: ComponentChildren }) {
  const id = `s-${title.toLowerCase().replace(/[^a-z0-9]+/g, '-')}`;
  return (
    <section aria-labelledby={id} class="card">
      <div class="card-head">
        <h2 id={id}>{title}</h2>
        {actions}
      </div>
      {children}
    </section>
  );
}

export function Field({ label, children, hint }: { label: string; children: ComponentChildren; hint?: string }) {
  return (
    <label class="field">
      <span class="field-label">{label}</span>
      {children}
      {hint && <span class="muted small">{hint}</span>}
    </label>
  );
}

/**
 * A filter picked from what exists (deployments by name, pools, automations) instead of typed as an id.
 * A value from the URL that is not among the options (deleted since, or not loaded yet) stays selectable.
 */
export function ChoiceFilter({ label, value, options, onChange }: { label: string; value: string; options: Array<{ value: string; label: string }> | undefined; onChange: (v: string) => void }) {
  const known = options ?? [];
  const all = value && !known.some((o) => o.value === value) ? [...known, { value, label: value }] : known;
  return (
    <Field label={label}>
      <select value={value} onChange={(e) => onChange((e.target as HTMLSelectElement).value)}>
        <option value="">Any</option>
        {all.map((o) => (
          <option key={o.value} value={o.value}>
            {o.label}
          </option>
        ))}
      </select>
    </Field>
  );
}

/** Keyset pagination: a "next page" link carrying the cursor, and back to the first page. */
export function Pager({ cursor, next, onFirst, onNext }: { cursor?: string; next: string | null; onFirst: () => void; onNext: (c: string) => void }) {
  return (
    <nav class="pager" aria-label="Pagination">
      <button type="button" disabled={!cursor} onClick={onFirst}>
        ← Newest
      </button>
      <button type="button" disabled={!next} onClick={() => next && onNext(next)}>
        Older →
      </button>
    </nav>
  );
}

export function Kv({ rows }: { rows: Array<[string, ComponentChildren]> }) {
  return (
    <dl class="kv">
      {rows.map(([k, v]) => (
        <div key={k}>
          <dt>{k}</dt>
          <dd>{v}</dd>
        </div>
      ))}
    </dl>
  );
}
