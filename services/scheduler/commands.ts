import { UnrecoverableError, Worker, type Job } from 'bullmq';
import { ReflexError, toFieldIssues } from '../../core/errors.ts';
import type { Logger } from '../../core/log.ts';
import type { Runtime } from '../../core/runtime.ts';
import { StateTypeSchema } from '../../schemas/flow-run.ts';
import { FlowRunCommandJobSchema, type FlowRunCommandJob } from '../../schemas/jobs.ts';
import { requireDeployment, setDeploymentPaused } from '../orchestration/deployments.ts';
import { bullConnection } from '../orchestration/enqueue.ts';
import { cancelFlowRun, changeFlowRunState } from '../orchestration/flow-run-ops.ts';
import { createDeploymentRun } from '../orchestration/scheduled-runs.ts';

/** What a processed command answers (stored as the BullMQ job's return value). */
export type CommandResult = { flow_run_id: string; created?: boolean } | { deployment_id: string; paused: boolean };

/**
 * Executes one command from the flow-run-commands queue (produced by automations). Commands are
 * idempotent: run-deployment uses the job's idempotency_key as the run's key, cancel and state changes
 * are refused (not repeated) once applied.
 */
export async function executeCommand(rt: Runtime, cmd: FlowRunCommandJob): Promise<CommandResult> {
  switch (cmd.type) {
    case 'run-deployment': {
      const deployment = await requireDeployment(rt.pg, cmd.deployment_id ?? cmd.deployment_name ?? '');
      const { run, created } = await createDeploymentRun(rt, deployment, {
        parameters: cmd.parameters,
        tags: cmd.tags,
        idempotency_key: cmd.idempotency_key,
        source: 'manual',
      });
      return { flow_run_id: run.id, created };
    }
    case 'cancel-flow-run': {
      const run = await cancelFlowRun(rt, cmd.flow_run_id, cmd.message);
      return { flow_run_id: run.id };
    }
    case 'change-flow-run-state': {
      const type = StateTypeSchema.safeParse(cmd.state.type);
      if (!type.success) throw new ReflexError('invalid_request', `unknown state type "${cmd.state.type}"`, { issues: toFieldIssues(type.error.issues, ['state', 'type']) });
      const run = await changeFlowRunState(rt, cmd.flow_run_id, { ...cmd.state, type: type.data }, { force: cmd.force });
      return { flow_run_id: run.id };
    }
    case 'pause-deployment':
    case 'resume-deployment': {
      const d = await setDeploymentPaused(rt, cmd.deployment_id ?? cmd.deployment_name ?? '', cmd.type === 'pause-deployment');
      return { deployment_id: d.id, paused: d.paused };
    }
    default: {
      const never: never = cmd;
      throw new Error(`unhandled command ${JSON.stringify(never)}`);
    }
  }
}

/**
 * The BullMQ consumer of flow-run commands. A command that cannot succeed (bad input, unknown run or
 * deployment, refused transition, paused deployment) fails at once with its reason, without retries; an
 * outage (database, Redis) throws normally so BullMQ retries it per the producer's attempts.
 */
export function startCommandWorker(rt: Runtime, log: Logger, concurrency = 20): Worker {
  const worker = new Worker(
    rt.names.queues.flowRunCommands,
    async (job: Job) => {
      const parsed = FlowRunCommandJobSchema.safeParse(job.data);
      if (!parsed.success) {
        const issues = toFieldIssues(parsed.error.issues).map((i) => `${i.path || '(root)'}: ${i.message}`);
        log.warn({ job_id: job.id, issues }, 'invalid flow-run command');
        throw new UnrecoverableError(`invalid command: ${issues.join('; ')}`);
      }
      const cmd = parsed.data;
      const fields = { job_id: job.id, command: cmd.type, automation_id: cmd.triggered_by.automation_id, event_id: cmd.triggered_by.event_id };
      try {
        const result = await executeCommand(rt, cmd);
        log.info({ ...fields, ...result }, 'flow-run command done');
        return result;
      } catch (err) {
        if (err instanceof ReflexError && err.status < 500) {
          log.warn({ ...fields, reason: err.message }, 'flow-run command refused');
          throw new UnrecoverableError(err.message);
        }
        log.error({ ...fields, err }, 'flow-run command failed; will retry');
        throw err;
      }
    },
    { connection: bullConnection(rt.redisConnection('flow-run-commands')), prefix: rt.names.bullPrefix, concurrency },
  );
  worker.on('error', (err) => log.error({ err }, 'flow-run command worker error'));
  return worker;
}
