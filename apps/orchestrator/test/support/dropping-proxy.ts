import { createServer, request as httpRequest, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

/** What the proxy does to one events stream: cut it, or stop forwarding and keep it open. */
export type StreamFault = { after: number; then: 'drop' | 'silence' };

export interface DroppingProxy {
  url: string;
  /** The `Last-Event-ID` of each `GET …/events` request that came through, in order (null: none). */
  readonly eventRequests: ReadonlyArray<string | null>;
  /**
   * The next events streams, one fault each in order: each passes `after` whole events on, then
   * half of the next one (so the client holds a cut event), and then drops the connection or
   * goes silent while keeping it open. Streams past the list pass through untouched.
   */
  faultEventStreams(faults: StreamFault[]): void;
  close(): Promise<void>;
}

/**
 * An HTTP proxy in front of an orchestrator that breaks task event streams on purpose, the way
 * a load balancer or a lost NAT entry does, and records how clients reconnect.
 */
export async function startDroppingProxy(target: string): Promise<DroppingProxy> {
  const upstream = new URL(target);
  const eventRequests: Array<string | null> = [];
  const faults: StreamFault[] = [];
  const server = createServer((req, res) => {
    const isEvents = /^\/v1\/tasks\/[^/]+\/events(\?|$)/.test(req.url ?? '');
    if (isEvents) eventRequests.push(typeof req.headers['last-event-id'] === 'string' ? req.headers['last-event-id'] : null);
    const fault = isEvents ? faults.shift() : undefined;
    const forward = httpRequest(
      { host: upstream.hostname, port: upstream.port, path: req.url, method: req.method, headers: req.headers, agent: false },
      (answer) => {
        res.writeHead(answer.statusCode ?? 502, answer.headers);
        if (fault) breakStream(answer, res, fault);
        else answer.pipe(res);
      },
    );
    forward.on('error', () => res.destroy());
    res.on('close', () => forward.destroy());
    req.pipe(forward);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    eventRequests,
    faultEventStreams: (next) => void faults.push(...next),
    close: () =>
      new Promise((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

function breakStream(answer: IncomingMessage, res: ServerResponse, fault: StreamFault): void {
  let seen = '';
  let broken = false;
  answer.setEncoding('utf8');
  answer.on('data', (text: string) => {
    if (broken) return;
    const start = seen.length;
    seen += text;
    // The (after+1)-th event starts at its `id:` line; cut in the middle of that line.
    const starts = [...seen.matchAll(/^id: /gm)];
    const cutEvent = starts[fault.after];
    if (!cutEvent) return void res.write(text);
    const cutAt = cutEvent.index + 'id: '.length + 3;
    broken = true;
    // Destroyed once the cut text is flushed: a destroy discards what is still buffered.
    // 'silence': the connection stays open and nothing more reaches the client, not even heartbeats.
    res.write(seen.slice(start, Math.max(start, cutAt)), () => {
      if (fault.then !== 'drop') return;
      res.destroy();
      answer.destroy();
    });
  });
  answer.on('end', () => {
    if (!broken) res.end();
  });
}
