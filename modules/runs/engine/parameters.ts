import { Ajv, type ErrorObject, type ValidateFunction } from 'ajv';
import addFormatsModule from 'ajv-formats';
import { describeIssues, ValidationError, type FieldIssue } from '../../../core/errors.ts';

// ajv-formats is CommonJS: under NodeNext its default export arrives wrapped.
const addFormats = ((addFormatsModule as unknown as { default?: unknown }).default ?? addFormatsModule) as (ajv: Ajv) => Ajv;

/**
 * Deployment parameter validation with JSON Schema (the flow's zod parameters are exported as JSON Schema
 * when deployed from code). Compiled validators are cached by schema text.
 */
const ajv = addFormats(new Ajv({ allErrors: true, strict: false }));
const cache = new Map<string, ValidateFunction>();

function compile(schema: Record<string, unknown>): ValidateFunction {
  const key = JSON.stringify(schema);
  let fn = cache.get(key);
  if (!fn) {
    if (cache.size > 500) cache.clear();
    fn = ajv.compile(schema);
    cache.set(key, fn);
  }
  return fn;
}

/** Null when the schema compiles, else why not (used when a deployment is saved). */
export function parameterSchemaProblem(schema: Record<string, unknown>): string | null {
  try {
    compile(schema);
    return null;
  } catch (err) {
    return (err as Error).message;
  }
}

/** Throws a 400 listing each parameter that breaks the schema, with paths like `parameters.limit`. */
export function validateParameters(schema: Record<string, unknown> | null, parameters: Record<string, unknown>, prefix = 'parameters'): void {
  if (!schema) return;
  const validate = compile(schema);
  if (validate(parameters)) return;
  const issues = (validate.errors ?? []).map((e) => toIssue(e, prefix));
  throw new ValidationError(`invalid parameters: ${describeIssues(issues)}`, issues);
}

function toIssue(e: ErrorObject, prefix: string): FieldIssue {
  const parts = e.instancePath.split('/').slice(1).map((p) => p.replace(/~1/g, '/').replace(/~0/g, '~'));
  if (e.keyword === 'required') parts.push(String((e.params as { missingProperty: string }).missingProperty));
  if (e.keyword === 'additionalProperties') parts.push(String((e.params as { additionalProperty: string }).additionalProperty));
  let path = prefix;
  for (const p of parts) path += /^\d+$/.test(p) ? `[${p}]` : `.${p}`;
  return { path, message: e.message ?? 'is invalid' };
}
