// Tools of the example `io` pool (worker-pool-io.yaml): slow, I/O-bound calls that should not hold
// the default pool's slots. Mounted into the io workers from a ConfigMap that kustomization.yaml
// generates from this file. A tool module has no build step and needs no imports: a tool is a plain
// object (README, Tools). Replace it with your own module, or bake your modules into the image.
import { lookup } from 'node:dns/promises';

/** Names that only mean something inside the cluster or the host: not the model's business. */
const INTERNAL = /(^localhost$|^[^.]+$|\.(local|localdomain|internal|svc|cluster\.local)\.?$)/i;

export default [
  {
    name: 'resolve_host',
    description: 'Resolve a public host name (e.g. "example.com") to its IP addresses.',
    parameters: {
      type: 'object',
      properties: { host: { type: 'string', minLength: 1, maxLength: 253, description: 'A fully qualified public host name' } },
      required: ['host'],
      additionalProperties: false,
    },
    timeoutMs: 5_000,
    async execute({ host }: { host: string }, ctx: { signal: AbortSignal }) {
      if (INTERNAL.test(host) || /^[\d.:]+$/.test(host)) throw new Error(`${JSON.stringify(host)} is not a public host name`);
      const addresses = await lookup(host, { all: true });
      ctx.signal.throwIfAborted();
      return { host, addresses: addresses.map((entry) => entry.address) };
    },
  },
];
