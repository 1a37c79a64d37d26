import { useState } from 'preact/hooks';
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
    if (p.pattern !== undefined && !new RegExp(p.pattern, 'u').test(v)) return `must match ${p.pattern}`;
  }
  if (p.enum && !p.enum.some((e) => JSON.stringify(e) === JSON.stringify(v))) return `must be one of ${p.enum.map((e) => JSON.stringify(e)).join(', ')}`;
  return undefined;
}

export function ParamForm({ schema, defaults, onSubmit, serverIssues }: { schema: Schema; defaults: Record<string, unknown>; onSubmit: (params: Record<string, unknown>) => void; serverIssues: FieldIssue[] }) {
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
    else document.getElementById(`param-${Object.keys(errs)[0]}`)?.focus();
  };
  const server = Object.fromEntries(serverIssues.map((i) => [i.path.replace(/^parameters\.?/, '').split('.')[0], i.message]));
  return (
    <form onSubmit={submit} class="param-form" noValidate>
      {Object.keys(props).length === 0 && <p class="muted">This deployment declares no parameter schema: it runs with its default parameters.</p>}
      {Object.entries(props).map(([k, p]) => {
        const t = typeOf(p);
        const err = errors[k] ?? server[k];
        const common = {
          id: `param-${k}`,
          name: k,
          'aria-invalid': err ? ('true' as const) : undefined,
          'aria-describedby': err ? `param-${k}-error` : p.description ? `param-${k}-hint` : undefined,
          'aria-required': required.has(k) ? ('true' as const) : undefined,
        };
        const set = (v: string | boolean) => setRaw({ ...raw, [k]: v });
        return (
          <div class="field" key={k}>
            <label for={`param-${k}`} class="field-label">
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
              <span id={`param-${k}-hint`} class="muted small">
                {p.description}
              </span>
            )}
            {err && (
              <span id={`param-${k}-error`} class="field-error">
                {err}
              </span>
            )}
          </div>
        );
      })}
      <button type="submit" class="primary">
        Run
      </button>
    </form>
  );
}
