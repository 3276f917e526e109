import { tool, type FunctionTool } from '@openai/agents';
import type { VolleyClient } from '../../volley-client.ts';
import { mayNeedApproval, servedTools, type ServedToolsOptions } from '../served-tools.ts';
import { ToolCallBatcher, type ToolCallBatcherOptions } from '../tool-call-batcher.ts';

export interface VolleyAgentToolsOptions extends ServedToolsOptions, ToolCallBatcherOptions {}

type JsonParameters = Extract<Parameters<typeof tool>[0], { strict: false }>['parameters'];

/**
 * The cluster's tools (`GET /v1/tools`, read once) as OpenAI Agents SDK function tools whose
 * `execute` runs on the cluster. The runner starts the calls of one model answer together with
 * the same run context: those go out as one `POST /v1/tool-calls`, one fan-out.
 *
 * A tool that needs a person (`needs_approval: true`, or `"dynamic"`: its rule runs in the worker,
 * so every call asks) gets `needsApproval: true`: the run stops with an interruption; once
 * `state.approve(...)` lets it through and the run resumes, the call is sent `approved`, so the
 * worker runs it. A rejected call never reaches the cluster.
 *
 * `execute` returns the tool message's text, a result or Volley's error message (JSON with
 * `code`, `message` and a `hint`), so the model reads what it would in a Volley task. Only a
 * failure to reach the cluster throws, which the SDK's error function tells the model.
 */
export async function volleyAgentTools(client: VolleyClient, options: VolleyAgentToolsOptions = {}): Promise<FunctionTool[]> {
  const batcher = new ToolCallBatcher(client, options);
  const tools = await servedTools(client, options);
  return tools.map((listed) => {
    const name = listed.function.name;
    const needsApproval = mayNeedApproval(listed);
    return tool({
      name,
      description: listed.function.description ?? '',
      // Volley's own JSON Schema, as the worker validates it; strict mode would rewrite it.
      parameters: listed.function.parameters as JsonParameters,
      strict: false,
      needsApproval,
      async execute(input, runContext, details) {
        const call = details?.toolCall;
        const id = call?.callId ?? `call_${globalThis.crypto.randomUUID()}`;
        const approved = needsApproval && runContext?.isToolApproved({ toolName: name, callId: id }) === true;
        const outcome = await batcher.run(
          // The model's own argument text, so the worker validates exactly what the model wrote.
          { id, name, arguments: call?.arguments ?? JSON.stringify(input ?? {}), approved, signal: details?.signal },
          runContext ?? batcher,
        );
        return outcome.content;
      },
    }) as FunctionTool;
  });
}
