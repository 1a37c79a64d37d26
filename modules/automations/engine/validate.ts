import { formatPath, toFieldIssues, ValidationError, type FieldIssue } from '../../../core/errors.ts';
import { AutomationInputSchema, type AutomationDocument } from '../../../schemas/automation.ts';
import { checkTemplate, templateStrings } from './render.ts';

/**
 * Validates an automation document: the zod schema (fields, json-logic operators, postures) and then
 * every template string of the actions, so a template that cannot parse is refused at save time.
 * Returns the document with defaults filled in; throws a ValidationError listing every problem by path.
 */
export function validateAutomation(input: unknown, what = 'automation'): AutomationDocument {
  const issues = automationIssues(input);
  if (issues.issues.length > 0 || !issues.doc) {
    const list = issues.issues.map((i) => `${i.path || '(root)'}: ${i.message}`).join('; ');
    throw new ValidationError(`invalid ${what}: ${list}`, issues.issues);
  }
  return issues.doc;
}

export function automationIssues(input: unknown): { doc?: AutomationDocument; issues: FieldIssue[] } {
  const parsed = AutomationInputSchema.safeParse(input);
  if (!parsed.success) return { issues: toFieldIssues(parsed.error.issues) };
  const { $schema: _hint, ...doc } = parsed.data;
  const issues: FieldIssue[] = [];
  for (const list of ['actions', 'actions_on_resolve'] as const) {
    doc[list].forEach((action, i) => {
      for (const t of templateStrings(action, [list, i])) {
        try {
          checkTemplate(t.source);
        } catch (err) {
          issues.push({ path: formatPath(t.path), message: `template error: ${(err as Error).message}` });
        }
      }
    });
  }
  return issues.length > 0 ? { issues } : { doc, issues };
}
