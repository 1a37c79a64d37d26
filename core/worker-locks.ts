import type { WorkerOptions } from 'bullmq';

/**
 * BullMQ lock timings of every worker of the engine (webhook deliveries, automation actions, flow runs).
 *
 * A job whose worker died stays active until its lock expires and a stalled-job check has seen it twice
 * (one check marks the active jobs, a later one moves those whose lock is gone back to the queue); each
 * check is skipped while another worker's last check is younger than the interval. With BullMQ's defaults
 * (30 s lock, 30 s interval) that took up to ~67 s after a webhook service was killed. With these, a dead
 * worker's jobs are back in the queue within lockDuration + stalledInterval (8 s) once any worker of the
 * queue runs, the restarted one included.
 *
 * A live worker renews its locks every lockDuration / 2 from a timer, however long the job runs, so only
 * an event loop blocked for longer than the lock makes a live job look stalled; it then runs again,
 * which every job of the engine tolerates (deterministic ids, state checked in Postgres).
 */
export const WORKER_LOCKS = { lockDuration: 6_000, stalledInterval: 2_000 } as const satisfies Pick<WorkerOptions, 'lockDuration' | 'stalledInterval'>;
