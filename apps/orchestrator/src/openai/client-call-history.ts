import type { AssistantMessage, ChatMessage } from '@volley/shared';
import type { Redis } from 'ioredis';
import type { TaskRecord } from '../tasks/task-record.ts';
import type { TaskStore } from '../tasks/task-store.ts';

/**
 * What a client never saw of a task that ended for it to run its own tools: the turns of cluster
 * calls before, and the cluster calls of the answer it got (which it got with its own calls
 * only). When the client comes back with that answer and its results, the conversation is put
 * back as the model made it, so the model sees its own calls and what they returned.
 *
 * The answer is found by its first client call's id, per tenant, for as long as the task lives;
 * a history that does not hold the answer as it was returned (ids, in order) is left as it is.
 */
export class ClientCallHistory {
  private readonly redis: Redis;
  private readonly store: TaskStore;
  private readonly prefix: string;

  constructor(deps: { redis: Redis; store: TaskStore; prefix: string }) {
    this.redis = deps.redis;
    this.store = deps.store;
    this.prefix = deps.prefix;
  }

  private key(tenant: string | null, callId: string): string {
    return `${this.prefix}:client-calls:${tenant ?? ''}:${callId}`;
  }

  /** Called before the answer leaves; a task that did not end for its client's calls has nothing to keep. */
  async remember(task: TaskRecord): Promise<void> {
    const first = task.client_tool_calls?.[0];
    if (!first || !task.origin) return;
    await this.redis.set(this.key(task.tenant, first.id), task.id, 'EX', this.store.ttlSeconds);
  }

  /** `messages` with each answer Volley returned for client calls replaced by what the model said and heard. */
  async restore(tenant: string | null, messages: readonly ChatMessage[]): Promise<ChatMessage[]> {
    const answers = messages.flatMap((message, index) => (message.role === 'assistant' && message.tool_calls?.length ? [index] : []));
    if (answers.length === 0) return [...messages];
    const firstIds = answers.map((index) => (messages[index] as AssistantMessage).tool_calls![0]!.id);
    const taskIds = await this.redis.mget(firstIds.map((id) => this.key(tenant, id)));
    const wanted = [...new Set(taskIds.filter((id): id is string => id !== null))];
    if (wanted.length === 0) return [...messages];
    const tasks = new Map(wanted.map((id, index) => [id, index]));
    const records = await this.store.getMany(wanted);
    const restored: ChatMessage[] = [];
    messages.forEach((message, index) => {
      const at = answers.indexOf(index);
      const taskId = at === -1 ? null : taskIds[at];
      const task = taskId ? records[tasks.get(taskId)!] : undefined;
      const made = task && task.tenant === tenant ? madeFor(task, message as AssistantMessage) : undefined;
      restored.push(...(made ?? [message]));
    });
    return restored;
  }
}

/** The task's own messages, when its client calls are exactly those of `answer`. */
function madeFor(task: TaskRecord, answer: AssistantMessage): ChatMessage[] | undefined {
  const ids = (task.client_tool_calls ?? []).map((call) => call.id);
  const given = (answer.tool_calls ?? []).map((call) => call.id);
  if (!task.origin || ids.length !== given.length || ids.some((id, index) => id !== given[index])) return undefined;
  return task.messages.slice(task.origin.input_messages);
}
