import { createConnection, createServer, type Socket } from 'node:net';
import type { AddressInfo } from 'node:net';

export interface ReplyDroppingProxy {
  /** A `redis://` URL that reaches Redis through the proxy. */
  url: string;
  /** Connections clients made through it so far. */
  readonly connections: number;
  /**
   * The next command a client sends reaches Redis, which runs it; its reply is dropped and the
   * connection cut, as a network fault between the two would: the client never hears the outcome.
   */
  dropNextReply(): void;
  close(): Promise<void>;
}

/** A TCP proxy in front of Redis that loses a reply on purpose, after Redis has run the command. */
export async function startReplyDroppingProxy(redisPort: number): Promise<ReplyDroppingProxy> {
  let armed = false;
  let connections = 0;
  const sockets = new Set<Socket>();
  const server = createServer((client) => {
    connections += 1;
    const upstream = createConnection({ host: '127.0.0.1', port: redisPort });
    sockets.add(client).add(upstream);
    let dropping = false;
    client.on('data', (chunk) => {
      if (armed) {
        armed = false;
        dropping = true;
      }
      upstream.write(chunk);
    });
    upstream.on('data', (chunk) => {
      if (!dropping) return void client.write(chunk);
      client.destroy();
      upstream.destroy();
    });
    const close = () => {
      client.destroy();
      upstream.destroy();
      sockets.delete(client);
      sockets.delete(upstream);
    };
    client.on('close', close).on('error', close);
    upstream.on('close', close).on('error', close);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `redis://127.0.0.1:${port}`,
    get connections() {
      return connections;
    },
    dropNextReply: () => {
      armed = true;
    },
    close: () =>
      new Promise((resolve) => {
        for (const socket of sockets) socket.destroy();
        server.close(() => resolve());
      }),
  };
}
