import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import {
  estimateUsage,
  parseChatCompletionRequest,
  toChatCompletion,
  toReplyMessage,
  type ChatCompletionRequest,
  type CompletionUsage,
  type ReplyMessage,
  type Responder,
} from './chat-completion.ts';
import { toCompletionChunks } from './completion-chunks.ts';
import { openAIError } from './openai-error.ts';

function preciseNow(): number {
  return performance.timeOrigin + performance.now();
}

export interface ScriptedModelOptions {
  respond: Responder;
  /** Waited before answering each completion, to stand in for generation time. Default 0. */
  latencyMs?: number;
  /** Default '127.0.0.1'. */
  host?: string;
  /** Default 0: any free port. */
  port?: number;
}

export interface RecordedRequest {
  body: ChatCompletionRequest;
  /** Epoch ms with sub-millisecond precision: the bench measures steps of a few ms between these. */
  receivedAt: number;
  /** When the body's last byte arrived: a large request's upload lies between this and `receivedAt`. */
  bodyReadAt: number;
  answeredAt: number;
  reply: ReplyMessage;
  usage: CompletionUsage;
  authorization: string | undefined;
}

export interface UsageTotals {
  prompt_tokens: number;
  completion_tokens: number;
  /** Completions answered successfully. */
  calls: number;
}

export interface ScriptedModel {
  /** Base URL ending in `/v1`, for `new OpenAI({ baseURL })`. */
  readonly url: string;
  /** Every successfully answered completion, in answer order. */
  readonly requests: RecordedRequest[];
  /** Running totals, updated in place. */
  readonly usage: Readonly<UsageTotals>;
  /** Completion requests received so far, and those not yet answered (updated in place). */
  readonly load: Readonly<{ received: number; inFlight: number }>;
  setLatency(ms: number): void;
  setResponder(respond: Responder): void;
  /**
   * The next `count` completion requests answer `status` with an OpenAI error body, right
   * away (no latency) and unrecorded. Calls queue up: failNext(1, 500); failNext(1, 429)
   * fails the next two requests, first with 500, then with 429.
   */
  failNext(count: number, status?: number): void;
  /** Stops listening and drops open (keep-alive) connections. */
  close(): Promise<void>;
}

const COMPLETIONS_PATH = '/v1/chat/completions';
const MODELS_PATH = '/v1/models';
// A runaway client should get an error rather than grow this process without bound.
const MAX_BODY_BYTES = 16 * 1024 * 1024;

export async function startScriptedModel(options: ScriptedModelOptions): Promise<ScriptedModel> {
  let respond = options.respond;
  let latencyMs = checkedLatency(options.latencyMs ?? 0);
  const pendingFailures: number[] = [];
  const requests: RecordedRequest[] = [];
  const usage: UsageTotals = { prompt_tokens: 0, completion_tokens: 0, calls: 0 };
  const load = { received: 0, inFlight: 0 };
  // Aborts latency waits on close so no timer outlives the server.
  const closing = new AbortController();

  async function answerCompletion(req: IncomingMessage, res: ServerResponse): Promise<void> {
    load.received += 1;
    load.inFlight += 1;
    try {
      await answer(req, res);
    } finally {
      load.inFlight -= 1;
    }
  }

  async function answer(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const receivedAt = preciseNow();
    const { raw, bodyReadAt } = await readBody(req);
    if (raw === undefined) {
      const message = `request body exceeds ${MAX_BODY_BYTES} bytes`;
      return sendJson(res, 413, openAIError(413, message, { code: 'body_too_large' }));
    }

    const injected = pendingFailures.shift();
    if (injected !== undefined) {
      // Real APIs send retry-after on 429; 0 lets a retrying client retry at once in tests.
      const headers: Record<string, string> = injected === 429 ? { 'retry-after': '0' } : {};
      const body = openAIError(injected, `injected failure (HTTP ${injected})`, { code: 'injected_failure' });
      return sendJson(res, injected, body, headers);
    }

    const parsed = parseChatCompletionRequest(raw);
    if (!parsed.ok) {
      const details = parsed.param === undefined ? {} : { param: parsed.param };
      return sendJson(res, 400, openAIError(400, parsed.message, { code: 'invalid_request', ...details }));
    }
    const { request } = parsed;

    if (latencyMs > 0) await sleep(latencyMs, undefined, { signal: closing.signal });

    let reply: ReplyMessage;
    try {
      reply = toReplyMessage(await respond(request));
    } catch (error) {
      const message = `scripted responder failed: ${errorMessage(error)}`;
      return sendJson(res, 500, openAIError(500, message, { code: 'responder_failed' }));
    }
    // The client may have gone away (or the server closed) while the responder ran.
    if (res.destroyed) return;

    const replyUsage = estimateUsage(request, reply);
    requests.push({
      body: request,
      receivedAt,
      bodyReadAt,
      answeredAt: preciseNow(),
      reply,
      usage: replyUsage,
      authorization: req.headers.authorization,
    });
    usage.prompt_tokens += replyUsage.prompt_tokens;
    usage.completion_tokens += replyUsage.completion_tokens;
    usage.calls += 1;
    if (request.stream === true) {
      const includeUsage = (request.stream_options as { include_usage?: boolean } | null | undefined)?.include_usage === true;
      return sendStream(res, toCompletionChunks(request.model, reply, replyUsage, includeUsage), closing.signal);
    }
    sendJson(res, 200, toChatCompletion(request.model, reply, replyUsage));
  }

  async function route(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const path = (req.url ?? '/').split('?', 1)[0];
    if (req.method === 'POST' && path === COMPLETIONS_PATH) return answerCompletion(req, res);
    if (req.method === 'GET' && path === MODELS_PATH) {
      const created = Math.floor(Date.now() / 1000);
      return sendJson(res, 200, {
        object: 'list',
        data: [{ id: 'scripted', object: 'model', created, owned_by: 'volley' }],
      });
    }
    sendJson(res, 404, openAIError(404, `no route for ${req.method} ${path}`, { code: 'not_found' }));
  }

  const server = createServer((req, res) => {
    route(req, res).catch((error: unknown) => {
      // Aborted latency waits and client disconnects land here; only a live socket gets an answer.
      if (res.headersSent) res.destroy();
      else {
        const message = `scripted model failed: ${errorMessage(error)}`;
        sendJson(res, 500, openAIError(500, message, { code: 'internal_error' }));
      }
    });
  });

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port ?? 0, options.host ?? '127.0.0.1', () => {
      server.off('error', reject);
      resolve();
    });
  });

  let closed: Promise<void> | undefined;

  return {
    url: `http://${urlHost(server.address() as AddressInfo)}/v1`,
    requests,
    usage,
    load,
    setLatency(ms) {
      latencyMs = checkedLatency(ms);
    },
    setResponder(next) {
      respond = next;
    },
    failNext(count, status = 500) {
      if (!Number.isInteger(count) || count < 0) {
        throw new RangeError(`failNext count must be a non-negative integer, got ${count}`);
      }
      if (!Number.isInteger(status) || status < 400 || status > 599) {
        throw new RangeError(`failNext status must be an HTTP error status (400-599), got ${status}`);
      }
      for (let i = 0; i < count; i += 1) pendingFailures.push(status);
    },
    close() {
      closed ??= new Promise<void>((resolve, reject) => {
        closing.abort();
        server.close((error) => (error ? reject(error) : resolve()));
        // server.close alone waits for idle keep-alive sockets to time out.
        server.closeAllConnections();
      });
      return closed;
    },
  };
}

/** The body as text (undefined past MAX_BODY_BYTES), and when its last byte arrived. */
async function readBody(req: IncomingMessage): Promise<{ raw: string | undefined; bodyReadAt: number }> {
  const chunks: Buffer[] = [];
  let size = 0;
  // Drain to the end even when too large, so the connection stays usable for the 413.
  for await (const chunk of req as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size <= MAX_BODY_BYTES) chunks.push(chunk);
  }
  const bodyReadAt = preciseNow();
  return { raw: size > MAX_BODY_BYTES ? undefined : Buffer.concat(chunks).toString('utf8'), bodyReadAt };
}

function sendJson(res: ServerResponse, status: number, body: object, headers: Record<string, string> = {}): void {
  if (res.destroyed) return;
  const payload = JSON.stringify(body);
  res.writeHead(status, {
    ...headers,
    'content-type': 'application/json',
    'content-length': Buffer.byteLength(payload),
  });
  res.end(payload);
}

/**
 * Server-Sent Events as the API streams them: one `data:` line per chunk, then `data: [DONE]`.
 * Each chunk is its own write after a turn of the event loop (no timer: a long answer stays fast).
 */
async function sendStream(res: ServerResponse, chunks: readonly object[], signal: AbortSignal): Promise<void> {
  if (res.destroyed) return;
  res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache', connection: 'keep-alive' });
  for (const chunk of chunks) {
    if (res.destroyed) return;
    res.write(`data: ${JSON.stringify(chunk)}\n\n`);
    // A turn of the event loop, not a timer: setTimeout's 1 ms floor would make a long answer slow.
    await new Promise((resolve) => setImmediate(resolve));
    if (signal.aborted) return void res.destroy();
  }
  res.end('data: [DONE]\n\n');
}

function checkedLatency(ms: number): number {
  if (!Number.isFinite(ms) || ms < 0) throw new RangeError(`latency must be a finite number >= 0, got ${ms}`);
  return ms;
}

// A wildcard bind address is not something a client can dial; point it at loopback instead.
function urlHost({ address, family, port }: AddressInfo): string {
  if (family === 'IPv6') return `[${address === '::' ? '::1' : address}]:${port}`;
  return `${address === '0.0.0.0' ? '127.0.0.1' : address}:${port}`;
}

function errorMessage(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
