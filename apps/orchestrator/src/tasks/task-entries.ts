import type { ChatMessage } from '@volley/shared';
import { taskRecordSchema, type TaskRecord, type TurnRecord } from './task-record.ts';
import type { CachedTranscript } from './transcript-cache.ts';

/** A record without its transcript and turns: what a listing reads. */
export type TaskHeader = Omit<TaskRecord, 'messages' | 'turns'>;

/**
 * What Redis holds of a task, as the store last read or wrote it: the stored JSON of each
 * header field and turn, and how many messages the list holds. A write sends only what differs
 * from it.
 */
export interface StoredState {
  /** Held as one JSON document (the layout before issue 15): the next write converts it. */
  legacy: boolean;
  messages: number;
  /** Bytes of the messages' stored JSON: what a cached transcript costs. */
  messageBytes: number;
  header: ReadonlyMap<string, string>;
  turns: ReadonlyMap<number, string>;
}

/** What a write sends: messages to append, header fields to set or remove, turns to set (index, JSON). */
export interface TaskChanges {
  messages: string[];
  header: Array<[string, string]>;
  removed: string[];
  turns: Array<[number, string]>;
  /** The state once the write has landed. */
  after: StoredState;
}

export const NOTHING_STORED: StoredState = { legacy: false, messages: 0, messageBytes: 0, header: new Map(), turns: new Map() };

/**
 * The read script's reply for one task: null when there is none; `[ended, 'document', json]` for
 * a record in the old layout; `[ended, 'entries', header, messages?, turns?, from?]` (flat
 * field/value lists and the messages from index `from` on) otherwise. `ended` is the ended mark,
 * or '' when none.
 */
export type TaskReply = null | [string, 'document', string] | [string, 'entries', string[], string[]?, string[]?, number?];

/**
 * Fields in the schema's order (then any the schema does not know), whatever order the hash
 * gave them in: a record read back has the shape and key order of the one written.
 */
const FIELD_ORDER = Object.keys(taskRecordSchema.shape);

/**
 * The task a read reply holds, what was stored of it, and its transcript (none for the old
 * layout). `cached`: the transcript the reader held, whose messages a reply read `from` their
 * count on continues. Stored data is the store's own: trusted, not parsed again.
 */
export function taskOfReply(
  reply: Exclude<TaskReply, null>,
  cached?: CachedTranscript,
): { task: TaskRecord; stored: StoredState; transcript?: CachedTranscript } {
  if (reply[1] === 'document') {
    return { task: JSON.parse(reply[2]) as TaskRecord, stored: { ...NOTHING_STORED, legacy: true } };
  }
  const [, , headerPairs, added = [], turnPairs = [], from = 0] = reply;
  if (from > 0 && !cached) throw new Error('a read that continues a transcript needs that transcript');
  const held = from > 0 ? cached! : { messages: [], bytes: 0 };
  const messages: readonly ChatMessage[] = [...held.messages, ...added.map((message) => JSON.parse(message) as ChatMessage)];
  const messageBytes = added.reduce((sum, message) => sum + Buffer.byteLength(message), held.bytes);
  const header = pairsOf(headerPairs, String);
  const turns = pairsOf(turnPairs, Number);
  const values: Record<string, unknown> = {
    // The record's own array: the caller appends to it, the cached transcript must not change.
    messages: [...messages],
    turns: [...turns.entries()].sort(([a], [b]) => a - b).map(([, turn]) => JSON.parse(turn) as TurnRecord),
  };
  for (const [field, json] of header) values[field] = JSON.parse(json);
  // A field the schema does not know (written by a newer version) is kept, so no write removes it.
  const unknown = Object.keys(values).filter((field) => !FIELD_ORDER.includes(field));
  const task = Object.fromEntries([...FIELD_ORDER.filter((field) => field in values), ...unknown].map((field) => [field, values[field]]));
  return {
    task: task as TaskRecord,
    stored: { legacy: false, messages: messages.length, messageBytes, header, turns },
    transcript: { messages, bytes: messageBytes },
  };
}

/** The header of a read reply (a header-only read gets no messages or turns). */
export function headerOfReply(reply: Exclude<TaskReply, null>): TaskHeader {
  const { messages: _messages, turns: _turns, ...header } = taskOfReply(reply).task;
  return header;
}

/**
 * What changed in `task` since `stored`: the messages past those stored (the transcript only
 * grows: a step appends, it never edits a message it read), each header field and turn whose
 * JSON differs. Costs JSON of the header and the turns, never of the transcript.
 */
export function changesSince(task: TaskRecord, stored: StoredState): TaskChanges {
  const { messages, turns, ...fields } = task;
  if (messages.length < stored.messages)
    throw new Error(`task ${task.id}: ${stored.messages - messages.length} messages removed, but its transcript only grows`);
  const header = new Map<string, string>();
  for (const [field, value] of Object.entries(fields)) if (value !== undefined) header.set(field, JSON.stringify(value));
  const turnJson = new Map(turns.map((turn) => [turn.index, JSON.stringify(turn)]));
  const added = messages.slice(stored.messages).map((message) => JSON.stringify(message));
  const messageBytes = added.reduce((sum, message) => sum + Buffer.byteLength(message), stored.messageBytes);
  return {
    messages: added,
    header: [...header].filter(([field, json]) => stored.header.get(field) !== json),
    removed: [...stored.header.keys()].filter((field) => !header.has(field)),
    turns: [...turnJson].filter(([index, json]) => stored.turns.get(index) !== json),
    after: { legacy: false, messages: messages.length, messageBytes, header, turns: turnJson },
  };
}

function pairsOf<K>(flat: readonly string[], key: (field: string) => K): Map<K, string> {
  const pairs = new Map<K, string>();
  for (let at = 0; at < flat.length; at += 2) pairs.set(key(flat[at]!), flat[at + 1]!);
  return pairs;
}
