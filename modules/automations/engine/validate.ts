import { describeIssues, formatPath, toFieldIssues, ValidationError, type FieldIssue } from '../../../core/errors.ts';
import { AutomationInputSchema, type AutomationDocument, type AutomationInput } from '../../../schemas/automation.ts';
import { checkTemplate, templateStrings } from './render.ts';

/**
 * Validates an automation document: the zod schema (fields, json-logic operators, postures, limits) and
 * then every template string of the actions, so a template that cannot parse is refused at save time.
 * Returns the document with defaults filled in; throws a ValidationError listing every problem by path.
 */
export function validateAutomation(input: unknown, what = 'automation'): AutomationDocument {
  const { doc, issues } = automationIssues(input);
  if (issues.length > 0 || !doc) throw new ValidationError(`invalid ${what}: ${describeIssues(issues)}`, issues);
  return doc;
}

export function automationIssues(input: unknown): { doc?: AutomationDocument; issues: FieldIssue[] } {
  const parsed = AutomationInputSchema.safeParse(input);
  if (!parsed.success) return { issues: toFieldIssues(parsed.error.issues) };
  const { $schema: _hint, ...doc } = parsed.data;
  const issues = templateIssues(doc);
  return issues.length > 0 ? { issues } : { doc, issues };
}

/**
 * The last step for a document the route schema already parsed: drops the editor hint and checks the
 * templates. `prefix` names the field holding the document (`automation` in a dry-run body).
 */
export function finishAutomation(parsed: AutomationInput, prefix: string[] = []): AutomationDocument {
  const { $schema: _hint, ...doc } = parsed;
  const issues = templateIssues(doc, prefix);
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
