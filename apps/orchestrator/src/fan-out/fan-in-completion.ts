import { toolCallResultSchema, type ToolCallResult } from '@volley/shared';
import type { EventEmitter } from 'node:events';
import type { QueueEvents } from 'bullmq';
import { z } from 'zod';

const gatheredSchema = z.array(toolCallResultSchema);

export interface FanInCompletion {
  /** The gathered results; undefined if the fan-in failed or its value is not results. */
  readonly gathered: Promise<ToolCallResult[] | undefined>;
  stop(): void;
}

/**
 * The completion of a fan-in job, as the turn queue's events announce it, listened for from
 * before the job is added. BullMQ's `Job.waitUntilFinished` starts listening only once it holds
 * the job, then asks whether it finished meanwhile: a fan-in that another instance gathered and
 * removed (`removeOnComplete`) in between is only "missing" by then, and its results are lost to
 * the waiter, which then waits for its deadline. On a busy machine that window is a few ms wide
 * and was hit, for a call that had long succeeded.
 */
export function listenForFanIn(queueEvents: QueueEvents, jobId: string): FanInCompletion {
  // QueueEvents emits `<event>:<job id>` for every job event (BullMQ's own waitUntilFinished
  // listens to them), but its typed listener map names the plain events only.
  const events = queueEvents as unknown as EventEmitter;
  let stop: () => void = () => undefined;
  const gathered = new Promise<ToolCallResult[] | undefined>((resolve) => {
    const onCompleted = (args: { returnvalue?: unknown }) => {
      stop();
      const results = gatheredSchema.safeParse(args.returnvalue);
      resolve(results.success ? results.data : undefined);
    };
    const onFailed = () => {
      stop();
      resolve(undefined);
    };
    events.on(`completed:${jobId}`, onCompleted);
    events.on(`failed:${jobId}`, onFailed);
    stop = () => {
      events.off(`completed:${jobId}`, onCompleted);
      events.off(`failed:${jobId}`, onFailed);
    };
  });
  return { gathered, stop: () => stop() };
}
