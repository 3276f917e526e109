import { listTasksParamsSchema, METADATA_KEY_PATTERN, metadataValueSchema, type TaskList, type TaskSummary } from '@volley/api-schemas';
import { VolleyError } from '@volley/shared';
import { z } from 'zod';
import type { IndexEntry, TaskIndex } from './task-index.ts';
import type { TaskRecord, TaskStatus } from './task-record.ts';
import type { TaskStore } from './task-store.ts';

export type { TaskSummary } from '@volley/api-schemas';

export interface ListTasksQuery {
  status?: TaskStatus;
  /** Every pair must match (AND). */
  metadata: Record<string, string>;
  limit: number;
  cursor?: IndexEntry;
}

export interface ListTasksDeps {
  store: TaskStore;
  index: TaskIndex;
}

/** Records read per round trip while listing. */
const BATCH = 100;
/** Index entries one request looks at, at most: a page of a rare filter may come back short, with a cursor to go on. */
const MAX_SCANNED = 1_000;
/** An entry without a record is dropped from the index only once it is this old (a task may be between its listing and its write). */
const MISSING_GRACE_MS = 60_000;

const FIXED_PARAMS = new Set(Object.keys(listTasksParamsSchema.shape));

/**
 * Parses `GET /v1/tasks`'s query: `status`, `limit` (1–100, default 20), `cursor`, and any
 * `metadata.<key>=<value>` (Fastify's parser gives `metadata.x` as a flat name). A name given twice
 * or any other name is a 400.
 */
export function parseListTasksQuery(query: Record<string, unknown>): ListTasksQuery {
  // No prototype: a key such as `__proto__` is a key like any other here.
  const metadata: Record<string, string> = Object.create(null);
  const rest: Record<string, unknown> = {};
  for (const [name, value] of Object.entries(query)) {
    if (Array.isArray(value)) throw new VolleyError('invalid_request', `query parameter ${JSON.stringify(name)} is given more than once`);
    if (!name.startsWith('metadata.')) {
      if (!FIXED_PARAMS.has(name)) throw new VolleyError('invalid_request', `unknown query parameter ${JSON.stringify(name)}`);
      rest[name] = value;
      continue;
    }
    const key = name.slice('metadata.'.length);
    if (!METADATA_KEY_PATTERN.test(key)) throw new VolleyError('invalid_request', `${JSON.stringify(name)}: a metadata key is 1 to 64 letters, digits, "_", "-" or "."`);
    metadata[key] = metadataValueSchema.parse(value);
  }
  const fixed = listTasksParamsSchema.parse(rest);
  return {
    metadata,
    limit: fixed.limit,
    ...(fixed.status ? { status: fixed.status } : {}),
    ...(fixed.cursor === undefined ? {} : { cursor: decodeCursor(fixed.cursor) }),
  };
}

/**
 * The tenant's tasks, newest first (by `created_at`, then id), that pass the filters. The cursor
 * is the place of the last task of a page, so pages neither repeat nor skip a task while new ones
 * are created (they land ahead of the first page). Records are read in batches with MGET; a page
 * holds fewer than `limit` tasks when a filter matched none of the next `MAX_SCANNED` tasks, and
 * `next_cursor` is null only when there is nothing further.
 */
export async function listTasks(deps: ListTasksDeps, tenant: string | null, query: ListTasksQuery): Promise<TaskList> {
  const tasks: TaskSummary[] = [];
  let place = query.cursor;
  let scanned = 0;
  let more = true;
  let extra = 0;
  const missing: string[] = [];
  fill: while (scanned < MAX_SCANNED) {
    const want = BATCH + extra;
    const entries = await deps.index.from(tenant, place?.score, want);
    const after = place;
    const fresh = after ? entries.filter((e) => e.score < after.score || (e.score === after.score && e.id < after.id)) : entries;
    if (fresh.length === 0) {
      if (entries.length < want) {
        more = false;
        break;
      }
      extra += BATCH; // more than a batch of tasks share one created_at: look further
      continue;
    }
    extra = 0;
    const records = await deps.store.getMany(fresh.map((e) => e.id));
    for (const [index, entry] of fresh.entries()) {
      place = entry;
      scanned += 1;
      const record = records[index];
      if (!record) {
        if (entry.score < Date.now() - MISSING_GRACE_MS) missing.push(entry.id);
        continue;
      }
      if (record.tenant !== tenant || !matches(record, query)) continue;
      tasks.push(summaryOf(record));
      if (tasks.length === query.limit) {
        more = index < fresh.length - 1 || entries.length === want;
        break fill;
      }
    }
    if (entries.length < want) {
      more = false;
      break;
    }
  }
  await deps.index.remove(tenant, missing);
  return { tasks, next_cursor: more && place ? encodeCursor(place) : null };
}

function matches(record: TaskRecord, query: ListTasksQuery): boolean {
  if (query.status && record.status !== query.status) return false;
  const metadata = record.metadata ?? {};
  return Object.entries(query.metadata).every(([key, value]) => Object.hasOwn(metadata, key) && metadata[key] === value);
}

export function summaryOf(record: TaskRecord): TaskSummary {
  return {
    id: record.id,
    status: record.status,
    created_at: record.created_at,
    updated_at: record.updated_at,
    model: record.model,
    metadata: record.metadata ?? {},
    usage: record.usage,
    ...(record.error ? { error: record.error } : {}),
  };
}

const cursorSchema = z.tuple([z.number().int().nonnegative(), z.string().min(1).max(200)]);

function encodeCursor(place: IndexEntry): string {
  return Buffer.from(JSON.stringify([place.score, place.id])).toString('base64url');
}

function decodeCursor(text: string): IndexEntry {
  try {
    const [score, id] = cursorSchema.parse(JSON.parse(Buffer.from(text, 'base64url').toString('utf8')));
    return { score, id };
  } catch {
    throw new VolleyError('invalid_request', 'cursor: not a cursor this API gave out');
  }
}
