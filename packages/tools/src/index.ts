// What a tool author needs, and nothing that runs Volley: no Redis, logging, tracing or metrics
// code is reachable from here (packages/tools/test/module-graph.test.ts holds it to that).
export { defineTool } from './define-tool.ts';
export type { Tool, ZodTool, JsonSchemaTool, ZodParameters, JsonSchemaObject, ResourceClaim } from './define-tool.ts';
export type { ToolContext, ApprovalContext } from './tool-context.ts';
export { ToolError } from './tool-error.ts';
