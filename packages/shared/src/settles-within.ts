/** Whether `work` settles within `ms` (for shutdown deadlines); the timer never holds the process open. */
export function settlesWithin(work: Promise<unknown>, ms: number): Promise<boolean> {
  const deadline = new Promise<false>((resolve) => setTimeout(resolve, ms, false).unref());
  return Promise.race([work.then(() => true), deadline]);
}
