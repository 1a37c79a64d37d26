import { describeIssues, formatPath, toFieldIssues, ValidationError, type FieldIssue } from '../../../core/errors.ts';
import { AutomationInputSchema, type AutomationDocument, type AutomationInput } from '../../../schemas/automation.ts';
import { checkTemplate, templateStrings } from './render.ts';
import { flowKeyIssue } from './flow-control.ts';

/** Bounds a deployment sets (REFLEX_FLOW_CONTROL_MAX_BATCH); without them only the document's own limits apply. */
export interface ValidationLimits {
  maxBatch?: number;
}

/**
 * Validates an automation document: the zod schema (fields, json-logic operators, postures, limits) and
 * then every template string of the actions, so a template that cannot parse is refused at save time.
 * Returns the document with defaults filled in; throws a ValidationError listing every problem by path.
 */
export function validateAutomation(input: unknown, what = 'automation', limits: ValidationLimits = {}): AutomationDocument {
  const { doc, issues } = automationIssues(input, limits);
  if (issues.length > 0 || !doc) throw new ValidationError(`invalid ${what}: ${describeIssues(issues)}`, issues);
  return doc;
}

export function automationIssues(input: unknown, limits: ValidationLimits = {}): { doc?: AutomationDocument; issues: FieldIssue[] } {
  const parsed = AutomationInputSchema.safeParse(input);
  if (!parsed.success) return { issues: toFieldIssues(parsed.error.issues) };
  const { $schema: _hint, ...doc } = parsed.data;
  const issues = [...templateIssues(doc), ...flowControlIssues(doc, [], limits)];
  return issues.length > 0 ? { issues } : { doc, issues };
}

/**
 * The last step for a document the route schema already parsed: drops the editor hint and checks the
 * templates. `prefix` names the field holding the document (`automation` in a dry-run body).
 */
export function finishAutomation(parsed: AutomationInput, prefix: string[] = [], limits: ValidationLimits = {}): AutomationDocument {
  const { $schema: _hint, ...doc } = parsed;
  const issues = [...templateIssues(doc, prefix), ...flowControlIssues(doc, prefix, limits)];
  if (issues.length > 0) throw new ValidationError(`invalid automation: ${describeIssues(issues)}`, issues);
  return doc;
}

/** Every action template that does not parse, by path. */
export function templateIssues(doc: Pick<AutomationDocument, 'actions' | 'actions_on_resolve'>, prefix: string[] = []): FieldIssue[] {
  const issues: FieldIssue[] = [];
  for (const list of ['actions', 'actions_on_resolve'] as const) {
    doc[list].forEach((action, i) => {
      for (const t of templateStrings(action, [...prefix, list, i])) {
        try {
          checkTemplate(t.source);
        } catch (err) {
          issues.push({ path: formatPath(t.path), message: `template error: ${(err as Error).message}` });
        }
      }
    });
  }
  return issues;
}

/** Flow-control rules that need more than the schema: key expressions that parse, the configured batch bound. */
export function flowControlIssues(doc: Pick<AutomationDocument, 'flow_control'>, prefix: string[] = [], limits: ValidationLimits = {}): FieldIssue[] {
  const fc = doc.flow_control;
  if (!fc) return [];
  const issues: FieldIssue[] = [];
  for (const mode of ['debounce', 'throttle', 'rate_limit', 'batch'] as const) {
    const key = fc[mode]?.key;
    if (key === undefined) continue;
    const problem = flowKeyIssue(key);
    if (problem) issues.push({ path: formatPath([...prefix, 'flow_control', mode, 'key']), message: problem });
  }
  const max = limits.maxBatch;
  if (max !== undefined) {
    if (fc.batch && fc.batch.max_size > max) {
      issues.push({ path: formatPath([...prefix, 'flow_control', 'batch', 'max_size']), message: `at most ${max} (REFLEX_FLOW_CONTROL_MAX_BATCH)` });
    }
    if (fc.debounce && fc.debounce.max_events > max) {
      issues.push({ path: formatPath([...prefix, 'flow_control', 'debounce', 'max_events']), message: `at most ${max} (REFLEX_FLOW_CONTROL_MAX_BATCH)` });
    }
  }
  return issues;
}
