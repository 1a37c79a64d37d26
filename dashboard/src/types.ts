import type { z } from 'zod';
import type * as D from '../../schemas/dashboard.ts';
import type { DeploymentConcurrencySchema, DeploymentSchema, DeploymentSlaSchema } from '../../schemas/deployment.ts';
import type { FlowControlSchema } from '../../schemas/automation.ts';
import type { StoredEventSchema } from '../../schemas/event-filter.ts';
import type { FlowRunSchema, RunErrorSchema, StateSchema, TaskRunSchema } from '../../schemas/flow-run.ts';
import type { FlowRunWaitSchema } from '../../schemas/flow-run-wait.ts';
import type { FailedRequestSchema, WebhookDeliverySchema, WebhookEndpointSchema } from '../../schemas/webhook.ts';

/**
 * The wire shapes the dashboard reads, taken from the API's own zod schemas (type-only imports: the
 * bundle holds none of zod), so a change of an answer is a type error here, not a blank cell in a page.
 */
type Out<T extends z.ZodType> = z.output<T>;

export type RunRow = D.RunRow;
export type RunCause = D.RunCause;
export type RunHistory = D.RunHistory;
export type LogLine = D.LogSearchLine;
export type LogPage = D.LogSearchPage;
export type PoolStatus = D.WorkPoolStatus;
export type DeploymentPlan = D.DeploymentPlan;
export type SlotHolder = D.SlotHolder;
export type AutomationSummary = D.AutomationSummary;
export type Firing = D.FiringView;
export type Attempt = D.AttemptWithRequest;
export type Overview = D.Overview;
export type Session = D.Session;

export type State = Out<typeof StateSchema>;
export type RunError = Out<typeof RunErrorSchema>;
export type TaskRun = Out<typeof TaskRunSchema>;
export type FlowRunDetail = Out<typeof FlowRunSchema> & { state_history: State[]; task_runs: TaskRun[] };
export type Deployment = Out<typeof DeploymentSchema>;
export type DeploymentConcurrency = Out<typeof DeploymentConcurrencySchema>;
export type DeploymentSla = Out<typeof DeploymentSlaSchema>;
export type FlowControl = Out<typeof FlowControlSchema>;
export type StoredEvent = Out<typeof StoredEventSchema>;
export type Delivery = Omit<Out<typeof WebhookDeliverySchema>, 'attempts'>;
export type Endpoint = Out<typeof WebhookEndpointSchema>;
export type FailedRequest = Out<typeof FailedRequestSchema>;

// Resume form (issue 13): what a paused run waits for.
export type FlowRunWait = Out<typeof FlowRunWaitSchema>;
