// `@volley/client/ai-sdk`: the cluster's tools for the Vercel AI SDK (`ai`, an optional peer dependency).
export { volleyTools } from './volley-tools.ts';
export type { VolleyToolSet, VolleyToolsOptions } from './volley-tools.ts';
export { VolleyToolCallError } from '../volley-tool-call-error.ts';
