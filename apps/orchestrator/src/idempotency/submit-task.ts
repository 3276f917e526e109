import type { FastifyRequest } from 'fastify';
import type { Redis } from 'ioredis';
import { createTask, type CreateTaskBody, type CreateTaskDeps } from '../tasks/create-task.ts';
import type { TaskRecord } from '../tasks/task-record.ts';
import { idempotencyRecordKey } from './idempotency-key.ts';
import { IdempotencyRecords } from './idempotency-records.ts';
import { submitTaskOnce } from './submit-task-once.ts';

/**
 * `POST /v1/tasks`: creates the task, or — with an `Idempotency-Key` this tenant used before with
 * the same body — answers the task that key made (`replayed`). The key and the body were checked
 * at the edge (the route's schema and `takeIdempotencyKeys`), before anything is claimed or written.
 */
export async function submitTask(
  deps: CreateTaskDeps & { redis: Redis },
  body: CreateTaskBody,
  request: Pick<FastifyRequest, 'idempotency' | 'traceContext' | 'caller'>,
): Promise<{ task: TaskRecord; replayed: boolean }> {
  const create = (id?: string) => createTask(deps, body, request.traceContext, request.caller, id === undefined ? {} : { id });
  if (request.idempotency === undefined) return { task: await create(), replayed: false };
  const { key, fingerprint } = request.idempotency;
  // The record and the task it makes share a shard (so a slot: releasing the record unless the
  // task was written is one script): the shard comes from the key, the task id is drawn to match.
  const spaces = deps.fanOut.spaces;
  const shard = spaces.of(`${request.caller.tenant ?? ''}/${key}`);
  return submitTaskOnce(
    { records: new IdempotencyRecords(deps.redis), store: deps.store },
    {
      key: idempotencyRecordKey(shard, 'tasks', request.caller.tenant, key),
      fingerprint,
      newId: () => spaces.idIn(shard),
      create,
      recordKey: (id) => deps.store.keysOf(id)[0]!,
    },
  );
}
