import { taskEventDataSchema, type TaskEventData } from '@volley/api-schemas';
import { VolleyApiError } from './volley-api-error.ts';

/** The body of an answer that must be an event stream; anything else is `invalid_response`. */
export function eventStreamBody(response: Response, what: string): ReadableStream<Uint8Array> {
  if (!response.headers.get('content-type')?.startsWith('text/event-stream') || !response.body) {
    throw new VolleyApiError(response.status, 'invalid_response', `${what}: the answer is not an event stream`);
  }
  return response.body;
}

/** The stream's text as it arrives; the connection is aborted when nothing arrives for `idleMs`. */
export async function* textOf(body: ReadableStream<Uint8Array>, connection: AbortController, idleMs: number): AsyncGenerator<string> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const arm = () => {
    clearTimeout(timer);
    timer = setTimeout(() => connection.abort(new IdleStreamError(idleMs)), idleMs);
  };
  arm();
  try {
    for await (const text of body.pipeThrough(new TextDecoderStream())) {
      arm();
      yield text;
    }
  } finally {
    clearTimeout(timer);
  }
}

class IdleStreamError extends Error {
  constructor(idleMs: number) {
    super(`the event stream brought nothing for ${idleMs} ms`);
    this.name = 'IdleStreamError';
  }
}

/** The `data:` of a task event (`what` names it in the error of one that is not). */
export function taskEventDataOf(data: string, what: string): TaskEventData {
  const parsed = taskEventDataSchema.safeParse(jsonOf(data, what));
  if (!parsed.success) throw new VolleyApiError(200, 'invalid_response', `${what} is not a task event: ${parsed.error.message}`);
  return parsed.data;
}

/** An event's `data:` as JSON. */
export function jsonOf(data: string, what: string): unknown {
  try {
    return JSON.parse(data);
  } catch (error) {
    throw new VolleyApiError(200, 'invalid_response', `${what} holds data that is not JSON`, { cause: error });
  }
}
