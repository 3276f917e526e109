import { ShardWorkers, TURN_QUEUE } from '@volley/shared';
import type { Job } from 'bullmq';
import type { Redis } from 'ioredis';
import { z } from 'zod';
import { TASK_DEADLINE_JOB } from '../fan-out/fan-out-queue.ts';
import { endTask } from '../tasks/end-task.ts';
import { failTaskOfDeadStep, runTaskStep, TASK_STEP_JOB, taskTimeoutError, type TaskStepDeps } from './task-step.ts';

const deadlineJobDataSchema = z.object({ taskId: z.string() });

/**
 * The orchestrator's consumer of the turn queues (one per shard): task steps (model calls,
 * fan-out, fan-in) and task deadlines. Any instance can take any job. (Bare `POST /v1/tool-calls`
 * fan-outs have no job here: their calls deliver to the request's inbox.)
 */
export function startTurnWorker(
  deps: TaskStepDeps & {
    connection: Redis;
    concurrency: number;
    jobLockMs: number;
    stalledIntervalMs: number;
    maxStalledCount: number;
  },
) {
  const worker = new ShardWorkers<unknown, undefined>(
    deps.fanOut.spaces,
    TURN_QUEUE,
    async (job: Job, token?: string): Promise<undefined> => {
      switch (job.name) {
        case TASK_STEP_JOB:
          await runTaskStep(deps, job, token);
          return undefined;
        case TASK_DEADLINE_JOB: {
          const { taskId } = deadlineJobDataSchema.parse(job.data);
          const task = await deps.store.get(taskId);
          if (task) await endTask({ ...deps, redis: deps.connection }, taskId, { status: 'failed', error: taskTimeoutError(task) });
          return;
        }
        default:
          throw new Error(`unknown job ${job.name} on the turn queue`);
      }
    },
    {
      connection: deps.connection,
      concurrency: deps.concurrency,
      // A dead orchestrator's steps are taken over within seconds, not BullMQ's default 30 s.
      lockDuration: deps.jobLockMs,
      stalledInterval: deps.stalledIntervalMs,
      maxStalledCount: deps.maxStalledCount,
    },
  );
  worker.on('failed', (job, error) => {
    deps.logger.error({ jobId: job?.id, name: job?.name, err: error }, 'turn job failed');
    // Only a final failure sets finishedOn; a failure that will be retried leaves it unset.
    if (job?.name !== TASK_STEP_JOB || !job.finishedOn) return;
    failTaskOfDeadStep(deps, job, error).catch((failure: unknown) =>
      deps.logger.error({ jobId: job.id, err: failure }, 'could not mark the task of a failed step failed'),
    );
  });
  worker.on('error', (error) => deps.logger.error({ err: error }, 'turn worker error'));
  return worker;
}
