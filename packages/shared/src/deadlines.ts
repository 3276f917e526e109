/** Whether `work` settles within `ms` (for shutdown deadlines); the timer never holds the process open. */
export function settlesWithin(work: Promise<unknown>, ms: number): Promise<boolean> {
  const deadline = new Promise<false>((resolve) => setTimeout(resolve, ms, false).unref());
  return Promise.race([work.then(() => true), deadline]);
}

/** `work`, or a rejection `no answer within <ms> ms` once `ms` pass first (probes, scrapes). */
export function withTimeout<T>(work: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`no answer within ${ms} ms`)), ms);
  });
  return Promise.race([work, timeout]).finally(() => clearTimeout(timer));
}
