import type { Template } from 'liquidjs';
import { createSandboxedLiquid } from '../../../core/liquid.ts';

/**
 * Sandboxed Liquid rendering for action templates: no file system (include/render/layout fail), unknown
 * filters are errors, and parse/render/memory limits stop runaway templates. A string is a template only
 * when it contains `{{` or `{%`. A string that is exactly one `{{ expression }}` evaluates to the
 * expression's value with its type (number, boolean, object), as Prefect's type-preserving upgrade does.
 */

const engine = createSandboxedLiquid();

const SINGLE_EXPRESSION = /^\s*\{\{-?\s*([\s\S]+?)\s*-?\}\}\s*$/;
const cache = new Map<string, Template[]>();
const MAX_CACHE = 2_000;

export function isTemplate(s: string): boolean {
  return s.includes('{{') || s.includes('{%');
}

function parse(source: string): Template[] {
  let t = cache.get(source);
  if (!t) {
    t = engine.parse(source);
    if (cache.size >= MAX_CACHE) cache.delete(cache.keys().next().value as string);
    cache.set(source, t);
  }
  return t;
}

/** Throws the parse error (syntax, unknown filter) of a template, if any. */
export function checkTemplate(source: string): void {
  if (!isTemplate(source)) return;
  const single = singleExpression(source);
  if (single !== null) engine.parse(`{{ ${single} }}`);
  else parse(source);
}

function singleExpression(source: string): string | null {
  const m = SINGLE_EXPRESSION.exec(source);
  if (!m || m[1].includes('{{') || m[1].includes('}}') || source.includes('{%')) return null;
  return m[1];
}

export type TemplateContext = Record<string, unknown>;

/** Renders a template to a string (non-templates are returned as they are). */
export async function renderString(source: string, ctx: TemplateContext): Promise<string> {
  if (!isTemplate(source)) return source;
  return engine.render(parse(source), ctx);
}

/** Renders every string inside a JSON value; `{{ x }}` alone keeps x's type. */
export async function renderValue(value: unknown, ctx: TemplateContext): Promise<unknown> {
  if (typeof value === 'string') {
    if (!isTemplate(value)) return value;
    const single = singleExpression(value);
    if (single !== null) {
      const v = await engine.evalValue(single, ctx);
      return v === undefined ? null : toPlain(v);
    }
    return renderString(value, ctx);
  }
  if (Array.isArray(value)) return Promise.all(value.map((v) => renderValue(v, ctx)));
  if (value && typeof value === 'object') {
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(value)) out[k] = await renderValue(v, ctx);
    return out;
  }
  return value;
}

/** Liquid drops and other objects become plain JSON values. */
function toPlain(v: unknown): unknown {
  return JSON.parse(JSON.stringify(v) ?? 'null');
}

/** Every template string in a JSON value with its path, for validation at save time. */
export function templateStrings(value: unknown, path: (string | number)[] = []): { path: (string | number)[]; source: string }[] {
  if (typeof value === 'string') return isTemplate(value) ? [{ path, source: value }] : [];
  if (Array.isArray(value)) return value.flatMap((v, i) => templateStrings(v, [...path, i]));
  if (value && typeof value === 'object') return Object.entries(value).flatMap(([k, v]) => templateStrings(v, [...path, k]));
  return [];
}
