import { crashedResult, toolCallJobDataSchema, type FanInReplies, type Logger } from '@volley/shared';
import type { Job } from 'bullmq';

/**
 * A call of a bare fan-out whose job failed for good (its processor threw, or BullMQ failed it
 * for stalling too often: its workers kept dying) still answers its request, as a `tool_crashed`
 * result, instead of leaving it to wait for its deadline. For the worker's 'failed' event: a
 * failure that will be retried leaves `finishedOn` unset and is let be.
 */
export function deliverFinalFailure(deps: { replies: FanInReplies; logger: Logger }) {
  return (job: Job | undefined, error: Error): void => {
    if (!job?.finishedOn) return;
    const data = toolCallJobDataSchema.safeParse(job.data);
    if (!data.success || data.data.reply_to === undefined) return;
    const result = crashedResult(data.data.toolCallId, error.message, job.attemptsMade);
    deps.replies
      .deliver(job, undefined, data.data.reply_to, data.data.taskId, result)
      .catch((failure: unknown) =>
        deps.logger.warn({ jobId: job.id, err: failure }, 'failure of a bare call not delivered; its request answers at its deadline'),
      );
  };
}
