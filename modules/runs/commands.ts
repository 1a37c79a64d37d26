import { NotFoundError, ReflexError, toFieldIssues } from '../../core/errors.ts';
import type { Pool } from '../../infra/db.ts';
import { StateTypeSchema } from '../../schemas/flow-run.ts';
import type { FlowRunCommandJob } from '../../schemas/jobs.ts';
import type { DeploymentRuns } from './deployment-runs.ts';
import { coalesced } from '../../infra/coalesce.ts';
import { deploymentsForRuns, type DeploymentForRun, type Deployments } from './deployments.ts';
import type { FlowRunOps } from './flow-run-ops.ts';

/** What an executed command answers (recorded in the automation action's outcome). */
export type CommandResult = { flow_run_id: string; created?: boolean } | { deployment_id: string; paused: boolean };

/**
 * Executes flow-run commands (rendered by automation actions, schemas/jobs.ts). Commands are idempotent:
 * run-deployment uses the command's idempotency_key as the run's key, cancel and state changes are
 * refused (not repeated) once applied. A command that cannot succeed throws a ReflexError with a status
 * below 500 (unknown deployment or run, refused transition, paused deployment); anything else is an
 * outage worth retrying.
 */
export class Commands {
  /**
   * The deployment and its pool, read when the command runs: the run-deployment commands of one batch of
   * events (the automations service executes a batch's actions together) share one query.
   */
  private readonly deploymentForRun: (ref: string) => Promise<DeploymentForRun | null>;

  constructor(
    pg: Pool,
    private readonly deployments: Deployments,
    private readonly deploymentRuns: DeploymentRuns,
    private readonly flowRuns: FlowRunOps,
  ) {
    this.deploymentForRun = coalesced((refs) => deploymentsForRuns(pg, refs));
  }

  async execute(cmd: FlowRunCommandJob): Promise<CommandResult> {
    switch (cmd.type) {
      case 'run-deployment': {
        const ref = cmd.deployment_id ?? cmd.deployment_name ?? '';
        const found = await this.deploymentForRun(ref);
        if (!found) throw new NotFoundError('deployment', ref);
        const { deployment, poolPaused } = found;
        const { run, created } = await this.deploymentRuns.create(deployment, {
          poolPaused,
          parameters: cmd.parameters,
          tags: cmd.tags,
          idempotency_key: cmd.idempotency_key,
          source: 'manual',
          triggered_by: cmd.triggered_by,
          priority: cmd.priority,
          concurrency_key: cmd.concurrency_key,
        });
        return { flow_run_id: run.id, created };
      }
      case 'cancel-flow-run': {
        const run = await this.flowRuns.cancel(cmd.flow_run_id, cmd.message);
        return { flow_run_id: run.id };
      }
      case 'change-flow-run-state': {
        const type = StateTypeSchema.safeParse(cmd.state.type);
        if (!type.success) throw new ReflexError('invalid_request', `unknown state type "${cmd.state.type}"`, { issues: toFieldIssues(type.error.issues, ['state', 'type']) });
        const run = await this.flowRuns.changeState(cmd.flow_run_id, { ...cmd.state, type: type.data }, { force: cmd.force });
        return { flow_run_id: run.id };
      }
      case 'pause-deployment':
      case 'resume-deployment': {
        const d = await this.deployments.setPaused(cmd.deployment_id ?? cmd.deployment_name ?? '', cmd.type === 'pause-deployment');
        return { deployment_id: d.id, paused: d.paused };
      }
      default: {
        const never: never = cmd;
        throw new Error(`unhandled command ${JSON.stringify(never)}`);
      }
    }
  }
}
