import { useEffect, useState } from 'preact/hooks';
import type { FieldIssue } from '../api.ts';

/**
 * A run form generated from a deployment's parameter_schema (JSON Schema): one input per top-level
 * property (text, number, checkbox, select for enums, JSON for objects and arrays), checked in the page
 * for the common keywords before submitting, so errors show at the field; the API checks the whole
 * schema again and its errors (`parameters.<field>`) land at the same fields.
 */
export interface PropSchema {
  type?: string | string[];
  enum?: unknown[];
  title?: string;
  description?: string;
  default?: unknown;
  minimum?: number;
  maximum?: number;
  minLength?: number;
  maxLength?: number;
  pattern?: string;
}

type Schema = { properties?: Record<string, PropSchema>; required?: string[] } | null;

const typeOf = (p: PropSchema) => (Array.isArray(p.type) ? p.type.find((t) => t !== 'null') : p.type) ?? 'string';

/**
 * A schema's pattern as a RegExp, or undefined when this browser cannot compile it (JSON Schema patterns are
 * ECMA-262 but written by a flow's author, e.g. zod's): the server checks it then, and the page does not crash.
 */
function compiled(pattern: string): RegExp | undefined {
  try {
    return new RegExp(pattern, 'u');
  } catch {
    try {
      return new RegExp(pattern);
    } catch {
      return undefined;
    }
  }
}

/** Checks one value against the keywords the form understands; answers a message or undefined. */
export function checkValue(p: PropSchema, v: unknown, required: boolean): string | undefined {
  if (v === undefined || v === '') return required ? 'required' : undefined;
  const t = typeOf(p);
  if ((t === 'integer' || t === 'number') && (typeof v !== 'number' || Number.isNaN(v))) return 'must be a number';
  if (t === 'integer' && !Number.isInteger(v)) return 'must be an integer';
  if (typeof v === 'number') {
    if (p.minimum !== undefined && v < p.minimum) return `must be ≥ ${p.minimum}`;
    if (p.maximum !== undefined && v > p.maximum) return `must be ≤ ${p.maximum}`;
  }
  if (typeof v === 'string') {
    if (p.minLength !== undefined && v.length < p.minLength) return `must be at least ${p.minLength} characters`;
    if (p.maxLength !== undefined && v.length > p.maxLength) return `must be at most ${p.maxLength} characters`;
    if (p.pattern !== undefined && compiled(p.pattern)?.test(v) === false) return `must match ${p.pattern}`;
  }
  if (p.enum && !p.enum.some((e) => JSON.stringify(e) === JSON.stringify(v))) return `must be one of ${p.enum.map((e) => JSON.stringify(e)).join(', ')}`;
  return undefined;
}

/**
 * The same form serves a deployment's run form and a paused run's resume form: `issuePrefix` is the body
 * field the API's issue paths start with (`parameters` or `input`), `idPrefix` keeps the inputs' ids apart.
 */
export interface ParamFormOptions {
  issuePrefix?: string;
  idPrefix?: string;
  submitLabel?: string;
  emptyText?: string;
  busy?: boolean;
}

/** `parameters.items[0].name` → `items`: the top-level field an API issue belongs to. */
export const issueField = (path: string, prefix: string) => (path === prefix ? '' : path.startsWith(`${prefix}.`) ? path.slice(prefix.length + 1) : path).split(/[.[]/)[0] ?? '';

export function ParamForm({
  schema,
  defaults,
  onSubmit,
  serverIssues,
  issuePrefix = 'parameters',
  idPrefix = 'param',
  submitLabel = 'Run',
  emptyText = 'This deployment declares no parameter schema: it runs with its default parameters.',
  busy = false,
}: { schema: Schema; defaults: Record<string, unknown>; onSubmit: (params: Record<string, unknown>) => void; serverIssues: FieldIssue[] } & ParamFormOptions) {
  const props = schema?.properties ?? {};
  const required = new Set(schema?.required ?? []);
  const [raw, setRaw] = useState<Record<string, string | boolean>>(() =>
    Object.fromEntries(
      Object.entries(props).map(([k, p]) => {
        const v = defaults[k] ?? p.default;
        return [k, typeOf(p) === 'boolean' ? Boolean(v) : v === undefined ? '' : typeof v === 'object' ? JSON.stringify(v) : String(v)];
      }),
    ),
  );
  const [errors, setErrors] = useState<Record<string, string>>({});
  const value = (k: string, p: PropSchema): unknown => {
    const r = raw[k];
    const t = typeOf(p);
    if (t === 'boolean') return Boolean(r);
    if (r === '') return undefined;
    // A select gives text: map it back to the enum's own value (a number stays a number).
    if (p.enum) return p.enum.find((e) => String(e) === r) ?? r;
    if (t === 'number' || t === 'integer') return Number(r);
    if (t === 'object' || t === 'array') {
      try {
        return JSON.parse(String(r));
      } catch {
        return Symbol.for('bad-json');
      }
    }
    return r;
  };
  const submit = (e: Event) => {
    e.preventDefault();
    const out: Record<string, unknown> = {};
    const errs: Record<string, string> = {};
    for (const [k, p] of Object.entries(props)) {
      const v = value(k, p);
      const msg = v === Symbol.for('bad-json') ? 'must be valid JSON' : checkValue(p, v, required.has(k));
      if (msg) errs[k] = msg;
      else if (v !== undefined) out[k] = v;
    }
    setErrors(errs);
    if (Object.keys(errs).length === 0) onSubmit(out);
    else document.getElementById(`${idPrefix}-${Object.keys(errs)[0]}`)?.focus();
  };
  // Issues about the body as a whole (no field) are listed above the fields, so none is dropped.
  const server: Record<string, string> = {};
  const general: string[] = [];
  for (const i of serverIssues) {
    const field = issueField(i.path, issuePrefix);
    if (field && field in props) server[field] ??= i.message;
    else general.push(`${i.path}: ${i.message}`);
  }
  // The server's answer moves the focus to its first field, as a client-side error does.
  const firstServerField = Object.keys(props).find((k) => k in server);
  useEffect(() => {
    if (firstServerField) document.getElementById(`${idPrefix}-${firstServerField}`)?.focus();
  }, [serverIssues]);
  return (
    <form onSubmit={submit} class="param-form" noValidate>
      {Object.keys(props).length === 0 && <p class="muted">{emptyText}</p>}
      {general.length > 0 && (
        <ul class="field-error" role="alert">
          {general.map((g) => (
            <li key={g}>{g}</li>
          ))}
        </ul>
      )}
      {Object.entries(props).map(([k, p]) => {
        const t = typeOf(p);
        const err = errors[k] ?? server[k];
        const common = {
          id: `${idPrefix}-${k}`,
          name: k,
          'aria-invalid': err ? ('true' as const) : undefined,
          'aria-describedby': err ? `${idPrefix}-${k}-error` : p.description ? `${idPrefix}-${k}-hint` : undefined,
          'aria-required': required.has(k) ? ('true' as const) : undefined,
        };
        const set = (v: string | boolean) => setRaw({ ...raw, [k]: v });
        return (
          <div class="field" key={k}>
            <label for={`${idPrefix}-${k}`} class="field-label">
              {p.title ?? k}
              {required.has(k) ? ' (required)' : ''}
            </label>
            {t === 'boolean' ? (
              <input type="checkbox" {...common} checked={Boolean(raw[k])} onChange={(e) => set((e.target as HTMLInputElement).checked)} />
            ) : p.enum ? (
              <select {...common} value={String(raw[k])} onChange={(e) => set((e.target as HTMLSelectElement).value)}>
                <option value="">—</option>
                {p.enum.map((o) => (
                  <option key={String(o)} value={String(o)}>
                    {String(o)}
                  </option>
                ))}
              </select>
            ) : t === 'object' || t === 'array' ? (
              <textarea {...common} rows={3} value={String(raw[k])} onInput={(e) => set((e.target as HTMLTextAreaElement).value)} />
            ) : t === 'number' || t === 'integer' ? (
              <input {...common} type="number" step={t === 'integer' ? 1 : 'any'} value={String(raw[k])} onInput={(e) => set((e.target as HTMLInputElement).value)} />
            ) : (
              <input {...common} type="text" value={String(raw[k])} onInput={(e) => set((e.target as HTMLInputElement).value)} />
            )}
            {p.description && (
              <span id={`${idPrefix}-${k}-hint`} class="muted small">
                {p.description}
              </span>
            )}
            {err && (
              <span id={`${idPrefix}-${k}-error`} class="field-error">
                {err}
              </span>
            )}
          </div>
        );
      })}
      <button type="submit" class="primary" disabled={busy}>
        {submitLabel}
      </button>
    </form>
  );
}
