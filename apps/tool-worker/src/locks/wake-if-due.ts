import type { Job } from 'bullmq';

/**
 * After a call's job moved itself to delayed: whoever could have woken it while it was still
 * active (a lock let go, a decision, a cancel) found it active and promoted nothing (see
 * JobWaker), so it looks once more now and wakes itself if any look says it must not sleep on
 * to its alarm. A look that fails counts as no: the alarm still comes.
 */
export async function wakeIfDue(job: Job, looks: ReadonlyArray<(() => Promise<boolean>) | undefined>): Promise<void> {
  const due = await Promise.all(looks.map((look) => look?.().catch(() => false) ?? false));
  if (due.some(Boolean)) await job.promote().catch(() => undefined);
}
