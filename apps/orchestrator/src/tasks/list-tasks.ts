import { listTasksParamsSchema, METADATA_KEY_PATTERN, metadataValueSchema, type TaskList, type TaskSummary } from '@volley/api-schemas';
import { z } from 'zod';
import type { IndexEntry, TaskIndex } from './task-index.ts';
import type { TaskHeader } from './task-entries.ts';
import type { TaskStatus } from './task-record.ts';
import type { TaskStore } from './task-store.ts';

// The page and its summaries are @volley/api-schemas' `taskListSchema` and `taskSummarySchema`.
export { taskListSchema, taskSummarySchema } from '@volley/api-schemas';
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

/** Headers read per round trip while listing. */
const BATCH = 100;
/** Index entries one request looks at, at most: a page of a rare filter may come back short, with a cursor to go on. */
const MAX_SCANNED = 1_000;
/** An entry without a record is dropped from the index only once it is this old (a task may be between its listing and its write). */
const MISSING_GRACE_MS = 60_000;

const METADATA_PREFIX = 'metadata.';
const fixedParams = listTasksParamsSchema.shape;

/**
 * `GET /v1/tasks`'s query: `status`, `limit` (1–100, default 20), `cursor`, and any
 * `metadata.<key>=<value>` (Fastify's parser gives `metadata.x` as a flat name). A name given twice
 * (an array) or any other name is a 400. Names are checked on the raw query: parsing an object
 * drops a `__proto__` key, which must be refused like any other unknown name.
 */
export const listTasksQuerySchema = z.preprocess(
  (query, ctx) => {
    if (query === null || typeof query !== 'object') return query;
    for (const name of Object.keys(query)) {
      if (Object.hasOwn(fixedParams, name)) continue;
      if (!name.startsWith(METADATA_PREFIX)) ctx.addIssue({ code: 'custom', path: [name], message: 'unknown query parameter', input: query });
      else if (!METADATA_KEY_PATTERN.test(name.slice(METADATA_PREFIX.length))) {
        ctx.addIssue({ code: 'custom', path: [name], message: 'a metadata key is 1 to 64 letters, digits, "_", "-" or "."', input: query });
      }
    }
    return query;
  },
  z
    .object(fixedParams)
    .catchall(metadataValueSchema.describe('`metadata.<key>=<value>`: only tasks with that pair (any number of them, all must match)'))
    .transform((query, ctx): ListTasksQuery => {
      // No prototype: a key such as `__proto__` is a key like any other here.
      const metadata: Record<string, string> = Object.create(null);
      for (const [name, value] of Object.entries(query)) {
        if (name.startsWith(METADATA_PREFIX)) metadata[name.slice(METADATA_PREFIX.length)] = value as string;
      }
      const cursor = query.cursor === undefined ? undefined : decodeCursor(query.cursor);
      if (cursor === null) ctx.addIssue({ code: 'custom', path: ['cursor'], message: 'not a cursor this API gave out', input: query.cursor });
      return { metadata, limit: query.limit, ...(query.status ? { status: query.status } : {}), ...(cursor ? { cursor } : {}) };
    }),
);

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
    const records = await deps.store.headers(fresh.map((e) => e.id));
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

function matches(record: TaskHeader, query: ListTasksQuery): boolean {
  if (query.status && record.status !== query.status) return false;
  const metadata = record.metadata ?? {};
  return Object.entries(query.metadata).every(([key, value]) => Object.hasOwn(metadata, key) && metadata[key] === value);
}

export function summaryOf(record: TaskHeader): TaskSummary {
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

/** The place a cursor names; null for text this API did not give out. */
function decodeCursor(text: string): IndexEntry | null {
  try {
    const [score, id] = cursorSchema.parse(JSON.parse(Buffer.from(text, 'base64url').toString('utf8')));
    return { score, id };
  } catch {
    return null;
  }
}
