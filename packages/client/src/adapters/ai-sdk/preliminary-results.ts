/**
 * What an AI SDK `execute` returns to stream preliminary results while staying the promise of its
 * result. The SDK takes an AsyncIterable first: it passes each value on as a `tool-result` part
 * with `preliminary: true` and takes the last as the result. Here those are each value `run`
 * reports while it runs, then what it resolves to (its rejection becomes the SDK's `tool-error`).
 * Code that awaits `execute` itself (a wrapper that logs results, a test) still gets the result,
 * as before. `run` starts at once, not when the SDK first reads, so the calls of one step still
 * reach the batcher in the same tick. The reports are read once.
 */
export function preliminaryResults(run: (report: (value: unknown) => void) => Promise<unknown>): Promise<unknown> & AsyncIterable<unknown> {
  const reported: unknown[] = [];
  let wake: (() => void) | undefined;
  let settled = false;
  const result = run((value) => {
    reported.push(value);
    wake?.();
  });
  const settle = () => {
    settled = true;
    wake?.();
  };
  result.then(settle, settle);
  async function* reportsThenResult() {
    for (;;) {
      while (reported.length > 0) yield reported.shift();
      if (settled) break;
      await new Promise<void>((resolve) => {
        wake = resolve;
      });
      wake = undefined;
    }
    yield await result;
  }
  return Object.assign(result, { [Symbol.asyncIterator]: reportsThenResult });
}
