import { ATTR, emitReservedSpan } from '@volley/shared';
import type { TaskRecord, TaskStatus } from './task-record.ts';

/** Emits the task's own span once it has ended, however it ended (finished or cancelled). */
export function emitTaskSpan(task: TaskRecord, status: TaskStatus, error?: { code: string; message: string }): void {
  if (!task.task_span) return;
  emitReservedSpan(task.task_span, {
    name: 'invoke_agent volley',
    attributes: {
      [ATTR.genAiOperation]: 'invoke_agent',
      [ATTR.genAiAgentName]: 'volley',
      [ATTR.genAiRequestModel]: task.model,
      [ATTR.genAiInputTokens]: task.usage.prompt_tokens,
      [ATTR.genAiOutputTokens]: task.usage.completion_tokens,
      [ATTR.taskId]: task.id,
      'volley.task.status': status,
      'volley.llm_calls': task.usage.llm_calls,
      'volley.tool_calls': task.usage.tool_calls,
    },
    ...(error ? { error } : {}),
  });
}
