import type { Transport, TransportSendOptions } from '@modelcontextprotocol/sdk/shared/transport.js';
import { ProgressNotificationSchema, type JSONRPCMessage, type MessageExtraInfo, type Progress } from '@modelcontextprotocol/sdk/types.js';

const TOKEN_PREFIX = 'volley-progress-';

/**
 * A transport in front of the real one that delivers the progress notifications of Volley's own
 * progress tokens itself, at once and in order, and keeps them from the SDK. The SDK runs a
 * notification's handler a microtask late but drops a request's progress handler as soon as its
 * response comes, so a server's last progress, sent just before its result, is lost whenever
 * both arrive in one read (as they do on a busy machine).
 */
export class ProgressRoutingTransport implements Transport {
  private readonly inner: Transport;
  private readonly handlers = new Map<string, (progress: Progress) => void>();
  private next = 0;
  onclose?: () => void;
  onerror?: (error: Error) => void;
  onmessage?: <T extends JSONRPCMessage>(message: T, extra?: MessageExtraInfo) => void;
  setProtocolVersion?: (version: string) => void;

  constructor(inner: Transport) {
    this.inner = inner;
    inner.onclose = () => this.onclose?.();
    inner.onerror = (error) => this.onerror?.(error);
    inner.onmessage = (message, extra) => {
      const own = ownProgress(message);
      if (!own) return this.onmessage?.(message, extra);
      // A call that ended (answered, cancelled) may still hear from a server that ignores the
      // cancel: nobody listens any more, and the SDK would only report an unknown token.
      this.handlers.get(own.token)?.(own.progress);
    };
    if (inner.setProtocolVersion) this.setProtocolVersion = (version) => inner.setProtocolVersion?.(version);
  }

  get sessionId(): string | undefined {
    return this.inner.sessionId;
  }

  start(): Promise<void> {
    return this.inner.start();
  }

  send(message: JSONRPCMessage, options?: TransportSendOptions): Promise<void> {
    return this.inner.send(message, options);
  }

  close(): Promise<void> {
    return this.inner.close();
  }

  /** A token to send as a request's `_meta.progressToken`, whose notifications go to `onProgress` until `stop()`. */
  track(onProgress: (progress: Progress) => void): { token: string; stop(): void } {
    this.next += 1;
    const token = `${TOKEN_PREFIX}${this.next}`;
    this.handlers.set(token, onProgress);
    return { token, stop: () => this.handlers.delete(token) };
  }
}

function ownProgress(message: JSONRPCMessage): { token: string; progress: Progress } | undefined {
  if (!('method' in message) || message.method !== 'notifications/progress') return undefined;
  const parsed = ProgressNotificationSchema.safeParse(message);
  if (!parsed.success) return undefined;
  const { progressToken: token, progress, total, message: text } = parsed.data.params;
  if (typeof token !== 'string' || !token.startsWith(TOKEN_PREFIX)) return undefined;
  return { token, progress: { progress, ...(total === undefined ? {} : { total }), ...(text === undefined ? {} : { message: text }) } };
}
