// `@volley/client/openai-agents`: the cluster's tools for the OpenAI Agents SDK (`@openai/agents`, an optional peer dependency).
export { volleyAgentTools } from './volley-agent-tools.ts';
export type { VolleyAgentToolsOptions } from './volley-agent-tools.ts';
