import type { ServerResponse } from 'node:http';

/** Aborts when the client goes away before its answer, so a waiting request lets go of what it waits on. */
export function abortOnClose(response: ServerResponse): AbortSignal {
  const controller = new AbortController();
  // The response's close, not the request's: a request closes once its body was read.
  response.once('close', () => {
    if (!response.writableFinished) controller.abort();
  });
  return controller.signal;
}
