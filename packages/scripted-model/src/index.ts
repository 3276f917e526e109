export { startScriptedModel } from './scripted-model.ts';
export type { RecordedRequest, ScriptedModel, ScriptedModelOptions, UsageTotals } from './scripted-model.ts';
export type {
  ChatCompletionRequest,
  CompletionUsage,
  ReplyMessage,
  ReplyToolCall,
  RequestMessage,
  RequestTool,
  Responder,
  ScriptedReply,
  ScriptedToolCall,
} from './chat-completion.ts';
export { demoResponder, parallelCallsThenAnswer, scriptedTurns } from './responders.ts';
export type { ParallelCallsThenAnswerOptions } from './responders.ts';
export {
  messagesSinceLastUser,
  messageText,
  toolCallNames,
  toolMessagesSinceLastUser,
} from './conversation.ts';
export { estimateTokens } from './estimate-tokens.ts';
