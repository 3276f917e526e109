// `@volley/client/langgraph`: a ToolNode for LangGraph and the cluster's tools for LangChain (`@langchain/core`, an optional peer dependency).
export { VolleyToolNode } from './volley-tool-node.ts';
export type { VolleyToolNodeOptions } from './volley-tool-node.ts';
export { volleyLangChainTools } from './volley-langchain-tools.ts';
export type { VolleyLangChainToolsOptions } from './volley-langchain-tools.ts';
export { volleyToolMessage } from './volley-tool-message.ts';
