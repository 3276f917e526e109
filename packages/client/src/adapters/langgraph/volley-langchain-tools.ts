import { DynamicStructuredTool, type ToolRunnableConfig } from '@langchain/core/tools';
import type { JSONSchema } from '@langchain/core/utils/json_schema';
import type { VolleyClient } from '../../volley-client.ts';
import { servedTools, type ServedToolsOptions } from '../served-tools.ts';
import { ToolCallBatcher, type ToolCallBatcherOptions } from '../tool-call-batcher.ts';
import { volleyToolMessage } from './volley-tool-message.ts';

export interface VolleyLangChainToolsOptions extends ServedToolsOptions, ToolCallBatcherOptions {}

/**
 * The cluster's tools (`GET /v1/tools`, read once) as LangChain tools: bind them to a chat model
 * (`model.bindTools(tools)`) so it sees Volley's names, descriptions and JSON Schemas. With a
 * `VolleyToolNode` they are only definitions; run elsewhere (LangGraph's own `ToolNode`,
 * `createAgent`), each runs its call on the cluster, and calls started in the same tick share
 * one fan-out. Each answers a `ToolMessage` as `VolleyToolNode` does.
 */
export async function volleyLangChainTools(client: VolleyClient, options: VolleyLangChainToolsOptions = {}): Promise<DynamicStructuredTool[]> {
  const batcher = new ToolCallBatcher(client, options);
  const tools = await servedTools(client, options);
  return tools.map(
    ({ function: definition }) =>
      new DynamicStructuredTool({
        name: definition.name,
        description: definition.description ?? '',
        schema: definition.parameters as JSONSchema,
        async func(input: unknown, _runManager, config?: ToolRunnableConfig) {
          // Invoked with a ToolCall (as ToolNode does), the config carries it, and its id is the model's.
          const id = config?.toolCall?.id || `call_${globalThis.crypto.randomUUID()}`;
          const outcome = await batcher.run({ id, name: definition.name, arguments: JSON.stringify(input ?? {}), signal: config?.signal });
          return volleyToolMessage(outcome);
        },
      }),
  );
}
