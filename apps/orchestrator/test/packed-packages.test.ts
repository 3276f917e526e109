import { randomBytes } from 'node:crypto';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { VolleyClient, type TaskEvent } from '@volley/client';
import { publint } from 'publint';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startCluster, type Cluster } from './support/cluster.ts';
import { startDroppingProxy, type DroppingProxy } from './support/dropping-proxy.ts';
import { ADAPTER_PEERS, areTheTypesWrong, installPackedPackages, PUBLISHED, typeCheck, type PackedInstall } from './support/packed-packages.ts';
import { callsFromQuestion } from './support/scripted-calls.ts';

const KEY = `vk_${randomBytes(24).toString('hex')}`;

/** Prints, at exit, the URL of every module loaded after it (Node's synchronous module hooks). */
const RECORD_LOADS = `
import { registerHooks } from 'node:module';
const loaded = [];
registerHooks({ load(url, context, nextLoad) { loaded.push(url); return nextLoad(url, context); } });
process.on('exit', () => process.stdout.write(JSON.stringify(loaded)));
`;

/** What a tool author and an API user write, in plain Node: no build, no flags. */
const USE_PACKAGES = `
import { defineTool, ToolError } from '@volley/tools';
import { VolleyApiError, VolleyClient } from '@volley/client';
import { z } from 'zod';

const shout = defineTool({
  name: 'shout',
  description: 'Upper-case a text.',
  parameters: z.object({ text: z.string() }),
  execute: ({ text }) => text.toUpperCase(),
});
const lookup = defineTool({
  name: 'lookup',
  description: 'A JSON Schema tool.',
  parameters: { type: 'object', properties: { id: { type: 'integer' } }, required: ['id'] },
  execute: (args) => ({ id: args.id }),
});
const busy = new ToolError('the service is busy', { code: 'busy', retryable: true });

const client = new VolleyClient({ baseURL: process.env.VOLLEY_URL, apiKey: process.env.VOLLEY_KEY });
const calls = [1, 2, 3].map((n) => ({ id: 'c' + n, name: 'nap', arguments: { ms: 100 * n } }));
const created = await client.createTask({ messages: [{ role: 'user', content: 'calls:' + JSON.stringify(calls) }] });
const events = [];
for await (const event of client.events(created.id, { reconnectDelayMs: 50 })) events.push(event);
const task = await client.getTask(created.id, { waitMs: 20000 });
const failure = await client.createTask({ messages: [] }).catch((error) => error);

console.log(JSON.stringify({
  tools: {
    shout: shout.execute({ text: 'hi' }),
    lookup: lookup.execute({ id: 7 }),
    toolError: { isInstance: ToolError.isInstance(busy), code: busy.code, retryable: busy.retryable },
  },
  created,
  task: { status: task.status, calls: task.turns[0].tool_calls.map((c) => c.status) },
  events,
  failure: { isInstance: VolleyApiError.isInstance(failure), instanceOf: failure instanceof VolleyApiError, name: failure.name, status: failure.status, code: failure.code },
}));
`;

/** Each adapter from its subpath, with its framework installed beside it, in plain Node. */
const USE_ADAPTERS = `
import { AIMessage } from '@langchain/core/messages';
import { VolleyClient } from '@volley/client';
import { volleyTools } from '@volley/client/ai-sdk';
import { volleyAgentTools } from '@volley/client/openai-agents';
import { VolleyToolNode, volleyLangChainTools } from '@volley/client/langgraph';

const client = new VolleyClient({ baseURL: process.env.VOLLEY_URL, apiKey: process.env.VOLLEY_KEY });
const aiTools = await volleyTools(client, { names: ['nap'] });
const napped = await aiTools.nap.execute({ ms: 1, label: 'ai' }, { toolCallId: 'ai_1', messages: [] });
const agentTools = await volleyAgentTools(client, { names: ['nap'] });
const langchainTools = await volleyLangChainTools(client, { names: ['nap'] });
const call = { id: 'lg_1', name: 'nap', args: { ms: 1, label: 'lg' }, type: 'tool_call' };
const [answered] = await new VolleyToolNode(client).invoke(new AIMessage({ content: '', tool_calls: [call] }));

console.log(JSON.stringify({
  ai: { names: Object.keys(aiTools), napped: { label: napped.label, toolCallId: napped.toolCallId } },
  agents: agentTools.map((tool) => ({ name: tool.name, type: tool.type, strict: tool.strict })),
  langchain: langchainTools.map((tool) => tool.name),
  node: { id: answered.tool_call_id, status: answered.status, label: JSON.parse(answered.content).label },
}));
`;

/** What a TypeScript user writes: the types must come through, and wrong calls must not compile. */
const CONSUMER_TS = `
import { defineTool, ToolError, type ToolContext } from '@volley/tools';
import { VolleyApiError, VolleyClient, type Task, type TaskEvent, type TaskStatus } from '@volley/client';
import { z } from 'zod';

export const tool = defineTool({
  name: 'add',
  description: 'Add two numbers.',
  parameters: z.object({ a: z.number(), b: z.number() }),
  execute: ({ a, b }, ctx: ToolContext) => (ctx.signal.aborted ? new ToolError('stopped') : a + b),
});

export async function use(client: VolleyClient): Promise<TaskStatus> {
  const { id } = await client.createTask({ messages: [{ role: 'user', content: 'hi' }], metadata: { run: '1' } }, { idempotencyKey: 'k' });
  const task: Task = await client.getTask(id, { waitMs: 1000 });
  for await (const event of client.events(id)) {
    const seen: TaskEvent = event;
    if (seen.event === 'task.finished') break;
  }
  try {
    await client.decide(id, [{ tool_call_id: 'c1', approve: true }]);
  } catch (error) {
    if (VolleyApiError.isInstance(error) && error.code === 'task_ended') return task.status;
  }
  // @ts-expect-error messages must be an array of chat messages
  await client.createTask({ messages: 'hello' });
  // @ts-expect-error a zod tool's arguments are typed by its parameters
  tool.execute({ a: 'one', b: 2 }, {} as ToolContext);
  return (await client.listTasks({ status: 'completed', limit: 5 })).tasks[0]?.status ?? 'queued';
}
`;

/** The adapters' types, checked against each framework's own declarations. */
const CONSUMER_ADAPTERS_TS = `
import { AIMessage, type ToolMessage } from '@langchain/core/messages';
import { Agent, type FunctionTool } from '@openai/agents';
import { VolleyClient } from '@volley/client';
import { VolleyToolCallError, volleyTools } from '@volley/client/ai-sdk';
import { volleyAgentTools } from '@volley/client/openai-agents';
import { VolleyToolNode, volleyLangChainTools } from '@volley/client/langgraph';
import type { ToolSet } from 'ai';

export async function adapters(client: VolleyClient, error: unknown): Promise<ToolMessage[]> {
  const tools: ToolSet = await volleyTools(client, { names: ['nap'], timeoutMs: 5000 });
  const agentTools: FunctionTool[] = await volleyAgentTools(client);
  new Agent({ name: 'a', tools: agentTools });
  await volleyLangChainTools(client, { batchWindowMs: 5 });
  if (VolleyToolCallError.isInstance(error)) console.log(error.code, error.record.worker_id, Object.keys(tools));
  // @ts-expect-error timeoutMs is a number of milliseconds
  await volleyTools(client, { timeoutMs: '5s' });
  return new VolleyToolNode(client).invoke([new AIMessage('hi')]);
}
`;

const CONSUMER_TSCONFIG = {
  compilerOptions: {
    target: 'es2022',
    lib: ['es2022', 'dom', 'dom.asynciterable'],
    module: 'nodenext',
    moduleResolution: 'nodenext',
    strict: true,
    noEmit: true,
    skipLibCheck: true,
    types: [],
  },
  files: ['consumer.ts', 'consumer-adapters.ts'],
};

describe('the published packages, packed and installed outside the repository', () => {
  let packed: PackedInstall;

  beforeAll(async () => {
    packed = await installPackedPackages();
  }, 120_000);

  afterAll(async () => {
    await packed?.remove();
  });

  describe('when publint and attw check the tarballs', () => {
    it.each(PUBLISHED.map((name, index) => [name, index]))('finds nothing to fix in %s', async (_name, index) => {
      const tarball = packed.tarballs[index as number]!;
      const bytes = await readFile(tarball);
      const { messages } = await publint({
        pack: { tarball: bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength) as ArrayBuffer },
        strict: true,
      });
      expect(messages).toEqual([]);
      await expect(areTheTypesWrong(tarball)).resolves.toBeDefined();
    });
  });

  describe('when @volley/tools is imported', () => {
    it('loads its own files and nothing else: no Redis, logging, tracing, metrics, not even zod', async () => {
      await writeFile(join(packed.dir, 'record-loads.mjs'), RECORD_LOADS);
      await writeFile(join(packed.dir, 'import-tools.mjs'), "await import('@volley/tools');\n");
      const loaded = await modulesLoadedBy(packed, 'import-tools.mjs');
      expect(loaded.length).toBeGreaterThan(0);
      for (const url of loaded) expect(url).toMatch(/\/node_modules\/@volley\/tools\/dist\/[a-z-]+\.js$/);
    });

    it('is the same for @volley/client, which adds zod and the API schemas only', async () => {
      await writeFile(join(packed.dir, 'record-loads.mjs'), RECORD_LOADS);
      await writeFile(join(packed.dir, 'import-client.mjs'), "await import('@volley/client');\n");
      const loaded = await modulesLoadedBy(packed, 'import-client.mjs');
      expect(loaded.some((url) => url.includes('/node_modules/zod/'))).toBe(true);
      for (const url of loaded) expect(url).toMatch(/\/node_modules\/(@volley\/(client|api-schemas)\/dist|zod)\//);
    });

    it.each(Object.entries(ADAPTER_PEERS))('loads its framework for @volley/client/%s, and no other', async (subpath, framework) => {
      await writeFile(join(packed.dir, 'record-loads.mjs'), RECORD_LOADS);
      await writeFile(join(packed.dir, `import-${subpath}.mjs`), `await import('@volley/client/${subpath}');\n`);
      const loaded = await modulesLoadedBy(packed, `import-${subpath}.mjs`);
      expect(loaded.some((url) => url.includes(`/node_modules/${framework}/`))).toBe(true);
      for (const other of Object.values(ADAPTER_PEERS).filter((name) => name !== framework)) {
        expect(loaded.filter((url) => url.includes(`/node_modules/${other}/`))).toEqual([]);
      }
    });
  });

  describe('when TypeScript checks code that uses them', () => {
    it('finds their declarations and the types of the API schemas', async () => {
      await writeFile(join(packed.dir, 'consumer.ts'), CONSUMER_TS);
      await writeFile(join(packed.dir, 'consumer-adapters.ts'), CONSUMER_ADAPTERS_TS);
      await writeFile(join(packed.dir, 'tsconfig.json'), JSON.stringify(CONSUMER_TSCONFIG));
      await expect(typeCheck(packed.dir)).resolves.toMatchObject({ stdout: '' });
    });
  });

  describe('when plain Node uses them against a running cluster', () => {
    let cluster: Cluster;
    let proxy: DroppingProxy;
    let result: { tools: any; created: any; task: any; events: TaskEvent[]; failure: any };

    beforeAll(async () => {
      cluster = await startCluster({ respond: callsFromQuestion, orchestratorEnv: { VOLLEY_API_KEYS: `${KEY}:acme` } });
      proxy = await startDroppingProxy(cluster.api.baseUrl);
      // The stream is cut once, in the middle of its fourth event.
      proxy.faultEventStreams([{ after: 3, then: 'drop' }]);
      await writeFile(join(packed.dir, 'use-packages.mjs'), USE_PACKAGES);
      const { stdout } = await packed.node(['use-packages.mjs'], { VOLLEY_URL: proxy.url, VOLLEY_KEY: KEY });
      result = JSON.parse(stdout);
    });

    afterAll(async () => {
      await proxy?.close();
      await cluster?.stop();
    });

    it('defines tools with zod or JSON Schema parameters, and ToolErrors', () => {
      expect(result.tools).toEqual({ shout: 'HI', lookup: { id: 7 }, toolError: { isInstance: true, code: 'busy', retryable: true } });
    });

    it('creates a task and waits for it', () => {
      expect(result.created).toEqual({ id: expect.any(String), status: 'queued' });
      expect(result.task).toEqual({ status: 'completed', calls: ['succeeded', 'succeeded', 'succeeded'] });
    });

    it('iterates its events across a dropped connection, resumed with Last-Event-ID: each event once, in order', async () => {
      const reference: TaskEvent[] = [];
      for await (const event of new VolleyClient({ baseURL: cluster.api.baseUrl, apiKey: KEY }).events(result.created.id)) reference.push(event);
      expect(result.events).toEqual(reference);
      expect(reference.at(-1)!.event).toBe('task.finished');
      expect(proxy.eventRequests).toEqual([null, reference[2]!.id]);
    });

    it('throws a 4xx as VolleyApiError with its status and code', () => {
      expect(result.failure).toEqual({ isInstance: true, instanceOf: true, name: 'VolleyApiError', status: 400, code: 'invalid_request' });
    });

    it('builds each adapter’s tools from the cluster, and runs calls through them', async () => {
      await writeFile(join(packed.dir, 'use-adapters.mjs'), USE_ADAPTERS);
      const { stdout } = await packed.node(['use-adapters.mjs'], { VOLLEY_URL: cluster.api.baseUrl, VOLLEY_KEY: KEY });
      expect(JSON.parse(stdout)).toEqual({
        ai: { names: ['nap'], napped: { label: 'ai', toolCallId: 'ai_1' } },
        agents: [{ name: 'nap', type: 'function', strict: false }],
        langchain: ['nap'],
        node: { id: 'lg_1', status: 'success', label: 'lg' },
      });
    });
  });
});

/** The modules (file URLs, node: builtins) a plain Node process loads for `file`'s imports, `file` itself left out. */
async function modulesLoadedBy(packed: PackedInstall, file: string): Promise<string[]> {
  const { stdout } = await packed.node(['--import=./record-loads.mjs', file]);
  return (JSON.parse(stdout) as string[]).filter((url) => !url.endsWith(`/${file}`));
}
