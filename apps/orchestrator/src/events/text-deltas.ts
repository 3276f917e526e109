/** At most one `llm.delta` per this many ms while the text streams, unless `maxChars` piled up first. */
export const DELTA_INTERVAL_MS = 50;
export const DELTA_MAX_CHARS = 2_000;

/**
 * Coalesces a model answer's streamed pieces of text into few deltas: the first piece goes out
 * at once, later ones wait until `intervalMs` passed since the last send (or `maxChars` piled up).
 * `send` is called in order and never twice at once, so the deltas land in order; `flush` sends
 * what is left and resolves once every delta was appended (it rethrows the first failure).
 */
export function coalesceText(send: (text: string) => Promise<unknown>, options: { intervalMs?: number; maxChars?: number } = {}) {
  const intervalMs = options.intervalMs ?? DELTA_INTERVAL_MS;
  const maxChars = options.maxChars ?? DELTA_MAX_CHARS;
  let pending = '';
  let lastSentAt = 0;
  let timer: NodeJS.Timeout | undefined;
  let chain: Promise<unknown> = Promise.resolve();
  let failure: unknown;
  const sendPending = () => {
    timer && clearTimeout(timer);
    timer = undefined;
    if (pending === '') return;
    const text = pending;
    pending = '';
    lastSentAt = Date.now();
    chain = chain
      .then(() => send(text))
      .catch((error: unknown) => {
        failure ??= error;
      });
  };
  return {
    push(text: string): void {
      pending += text;
      const wait = lastSentAt + intervalMs - Date.now();
      if (wait <= 0 || pending.length >= maxChars) sendPending();
      else timer ??= setTimeout(sendPending, wait);
    },
    /** Sends what is left; `discard` drops it instead (the call failed: its text is not an answer). */
    async flush(discard = false): Promise<void> {
      if (discard) pending = '';
      sendPending();
      await chain;
      if (failure !== undefined) throw failure;
    },
  };
}
