import { NotFoundError, ReflexError, toFieldIssues } from '../../core/errors.ts';
import type { Pool } from '../../infra/db.ts';
import { StateTypeSchema } from '../../schemas/flow-run.ts';
import type { FlowRunCommandJob } from '../../schemas/jobs.ts';
import type { DeploymentRuns } from './deployment-runs.ts';
import { coalesced } from '../../infra/coalesce.ts';
import { deploymentsForRuns, type DeploymentForRun, type Deployments } from './deployments.ts';
import type { FlowRunOps } from './flow-run-ops.ts';
import { DeploymentChangedError } from './contract.ts';

/** Deployment reads a Commands remembers for the next run-deployment commands, by reference. */
const REMEMBERED_DEPLOYMENTS = 256;

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

  /**
   * The last read of each deployment that runs were created from, by reference. A run made from one is
   * written only if the deployment row is still that version and neither it nor its pool is paused (the
   * check is in the run's insert), so a remembered read saves the deployment query on the path from an
   * event to its run without ever acting on a stale deployment: a changed, paused or deleted one fails
   * the insert, and the command is decided again on a fresh read.
   */
  private readonly remembered = new Map<string, DeploymentForRun>();

  private async readDeployment(ref: string): Promise<DeploymentForRun> {
    const found = await this.deploymentForRun(ref);
    this.remembered.delete(ref);
    if (!found) throw new NotFoundError('deployment', ref);
    // A paused deployment or pool is read again every time: its runs are refused until it is resumed.
    if (!found.deployment.paused && !found.poolPaused) {
      this.remembered.set(ref, found);
      if (this.remembered.size > REMEMBERED_DEPLOYMENTS) this.remembered.delete(this.remembered.keys().next().value as string);
    }
    return found;
  }

  private async runDeployment(cmd: Extract<FlowRunCommandJob, { type: 'run-deployment' }>, found: DeploymentForRun, remembered: boolean): Promise<CommandResult> {
    const { run, created } = await this.deploymentRuns.create(found.deployment, {
      poolPaused: found.poolPaused,
      parameters: cmd.parameters,
      tags: cmd.tags,
      idempotency_key: cmd.idempotency_key,
      source: 'manual',
      triggered_by: cmd.triggered_by,
      priority: cmd.priority,
      concurrency_key: cmd.concurrency_key,
      deploymentVersion: remembered ? found.version : undefined,
    });
    return { flow_run_id: run.id, created };
  }

  async execute(cmd: FlowRunCommandJob): Promise<CommandResult> {
    switch (cmd.type) {
      case 'run-deployment': {
        const ref = cmd.deployment_id ?? cmd.deployment_name ?? '';
        const remembered = this.remembered.get(ref);
        if (!remembered) return this.runDeployment(cmd, await this.readDeployment(ref), false);
        try {
          return await this.runDeployment(cmd, remembered, true);
        } catch (err) {
          // Decided on what may be stale: a changed deployment, or a refusal (parameters checked against
          // an older schema) that the current deployment may not make. Decided again on a fresh read.
          if (!(err instanceof DeploymentChangedError || (err instanceof ReflexError && err.status < 500))) throw err;
          return this.runDeployment(cmd, await this.readDeployment(ref), false);
        }
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
