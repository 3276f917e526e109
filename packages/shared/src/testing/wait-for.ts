export type WaitForOptions = {
  timeoutMs?: number;
  intervalMs?: number;
  message?: string;
};

export type WaitForProbe<T> = () => Promise<T | undefined | false> | T | undefined | false;

/**
 * Polls `probe` until it returns a truthy value. A probe that throws counts as "not yet", because
 * the things tests wait on (a server port, a key, a log line) usually fail until they exist; the
 * last error is attached as `cause` so a timeout still explains itself.
 */
export async function waitFor<T>(probe: WaitForProbe<T>, options: WaitForOptions = {}): Promise<T> {
  const timeoutMs = options.timeoutMs ?? 10_000;
  const intervalMs = options.intervalMs ?? 25;
  const deadline = Date.now() + timeoutMs;
  let lastError: unknown;
  for (;;) {
    try {
      const value = await probe();
      if (value) return value;
    } catch (error) {
      lastError = error;
    }
    if (Date.now() >= deadline) break;
    await new Promise((resolve) => setTimeout(resolve, Math.min(intervalMs, Math.max(0, deadline - Date.now()))));
  }
  const message = `${options.message ?? 'waitFor: condition not met'} (after ${timeoutMs} ms)`;
  throw lastError === undefined ? new Error(message) : new Error(`${message}: ${String(lastError)}`, { cause: lastError });
}
