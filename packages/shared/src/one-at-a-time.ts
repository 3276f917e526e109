/**
 * `work` wrapped so that calls while one is running share its promise instead of starting
 * another: overlapping scrapes, refreshes or page loads make one read, not a race of them.
 */
export function oneAtATime<T>(work: () => Promise<T>): () => Promise<T> {
  let inflight: Promise<T> | undefined;
  return () =>
    (inflight ??= work().finally(() => {
      inflight = undefined;
    }));
}
