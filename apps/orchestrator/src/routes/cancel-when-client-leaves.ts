import type { ServerResponse } from 'node:http';
import { cancelFanOut } from '../fan-out/cancel-fan-out.ts';
import type { RunToolCallsDeps } from '../fan-out/run-tool-calls.ts';
import { abortOnClose } from '../http/abort-on-close.ts';

/**
 * Cancels a bare fan-out when the client of its request goes away before the answer: nobody is
 * left to read it, so its calls stop (a running one is aborted, a waiting one never runs).
 * Returns what stops watching, for once the answer is ready.
 */
export function cancelWhenClientLeaves(deps: Pick<RunToolCallsDeps, 'fanOut' | 'redis' | 'logger'>, response: ServerResponse, fanOutId: string): () => void {
  const gone = abortOnClose(response);
  const cancel = () => {
    cancelFanOut(deps, fanOutId).catch((error: unknown) => deps.logger.warn({ err: error, fanOut: fanOutId }, 'tool calls not cancelled'));
  };
  gone.addEventListener('abort', cancel, { once: true });
  return () => gone.removeEventListener('abort', cancel);
}
