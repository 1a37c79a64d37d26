/**
 * The automations module: the automation document's engine (matching, buckets, composites, firing keys,
 * templates, actions through ports, dry runs and backtests; pure, in engine/) and its adapters: the
 * `automations` and `automation_firings` tables (repository.ts), trigger state in Redis
 * (redis-state-store.ts), automation files, and the change notice between replicas. The automations
 * service runs it live; the API and the CLI manage documents. Services use only what this file exports.
 */
export { compilePlan, PlanIndex, MAX_CHAIN, type AutomationPlan, type LeafPlan } from './engine/plan.ts';
export { eventOps, Evaluator, computeBatch, parseBucketStateKey, type Op, type Computed, type Note } from './engine/evaluator.ts';
export { parseFlowStateKey, compileFlowControl, gateFiring, tickFlow, flowKeyIssue, type FlowPlan, type FlowState, type FlowDecision } from './engine/flow-control.ts';
export { performAction, inferId, ActionFailure, type ActionDeps, type Outcome } from './engine/actions.ts';
export { executeAction, failureReason, templateContext } from './engine/outcomes.ts';
export { actionJobId, actionsOf, automationResource, causedRelated, firingKey, type Firing, type ActionJobData, type FiringWrite, type ActionOutcome } from './engine/firing.ts';
export { validateAutomation, automationIssues, finishAutomation, templateIssues } from './engine/validate.ts';
export { SECRET_MASK, maskSecrets, restoreSecrets } from './secrets.ts';
export { dryRun, DRY_RUN_AUTOMATION_ID, type DryRunResult, type DryRunFiring, type DryRunBucket } from './engine/dry-run.ts';
export { MemoryStateStore, type StateStore, type Commit, type Versioned } from './engine/state-store.ts';
export { RedisStateStore } from './redis-state-store.ts';
export {
  listAutomations,
  getAutomation,
  findAutomationByName,
  insertAutomation,
  replaceAutomation,
  deleteAutomation,
  automationsVersion,
  recordFirings,
  listFirings,
  setAutomationEnabled,
  recordedOutcomes,
  type FiringRecord,
} from './repository.ts';
export { automationSummaries, automationName, getFiring, firingHistory, type FiringHistory } from './summaries.ts';
export { applyAutomationFiles, readAutomationFiles, type ApplyReport } from './files.ts';
export { announceAutomationChange } from './changes.ts';
