import { Agent, request } from 'node:http';

export interface JsonResponse<T> {
  status: number;
  body: T;
}

/**
 * A lean JSON client on `node:http` with keep-alive. `fetch` (undici) costs a few hundred
 * microseconds more per request in this process, which would be charged to Volley's overhead.
 */
export class JsonClient {
  private readonly agent: Agent;
  private readonly host: string;
  private readonly port: number;

  constructor(baseUrl: string) {
    const url = new URL(baseUrl);
    this.host = url.hostname;
    this.port = Number(url.port);
    // One socket per turn in flight: the concurrency under test must not queue in the client.
    this.agent = new Agent({ keepAlive: true, maxSockets: Infinity, maxFreeSockets: 1024 });
  }

  post<T>(path: string, body: unknown): Promise<JsonResponse<T>> {
    return this.send<T>('POST', path, JSON.stringify(body));
  }

  get<T>(path: string): Promise<JsonResponse<T>> {
    return this.send<T>('GET', path, undefined);
  }

  close(): void {
    this.agent.destroy();
  }

  private send<T>(method: string, path: string, payload: string | undefined): Promise<JsonResponse<T>> {
    return new Promise((resolve, reject) => {
      const headers: Record<string, string | number> = {};
      if (payload !== undefined) {
        headers['content-type'] = 'application/json';
        headers['content-length'] = Buffer.byteLength(payload);
      }
      const req = request({ host: this.host, port: this.port, method, path, headers, agent: this.agent }, (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (chunk: Buffer) => chunks.push(chunk));
        res.on('error', reject);
        res.on('end', () => {
          const text = Buffer.concat(chunks).toString('utf8');
          try {
            resolve({ status: res.statusCode ?? 0, body: (text ? JSON.parse(text) : undefined) as T });
          } catch (error) {
            reject(new Error(`${method} ${path}: answer is not JSON (${res.statusCode}): ${text.slice(0, 200)}`, { cause: error }));
          }
        });
      });
      req.on('error', reject);
      req.end(payload);
    });
  }
}
