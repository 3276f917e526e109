import { ToolMessage } from '@langchain/core/messages';
import type { CallOutcome } from '../tool-call-batcher.ts';
import { succeeded } from '../volley-tool-call-error.ts';

/**
 * The `ToolMessage` of a call the cluster answered: Volley's text (a result, or its error message
 * with a hint) as the content the model reads, `status: 'error'` for a failed call, as LangGraph's
 * `ToolNode` marks one, and the call's record (worker, timings, error code) as the artifact,
 * which is kept in the state and never sent to the model.
 */
export function volleyToolMessage(outcome: CallOutcome): ToolMessage {
  return new ToolMessage({
    content: outcome.content,
    tool_call_id: outcome.record.id,
    name: outcome.record.name,
    status: succeeded(outcome) ? 'success' : 'error',
    artifact: outcome.record,
  });
}
