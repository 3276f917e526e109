export interface VolleyClientOptions {
  /** The orchestrator's URL, e.g. `http://localhost:3000`; a path prefix (`https://host/volley`) is kept. */
  baseURL: string;
  /** Sent as `Authorization: Bearer <apiKey>`; leave it out when the API runs without keys. */
  apiKey?: string | undefined;
  /** Headers sent with every request. */
  headers?: Record<string, string> | undefined;
  /**
   * The `fetch` to use (e.g. one with a proxy agent, or a test's).
   * @defaultValue globalThis.fetch
   */
  fetch?: typeof fetch | undefined;
}
