import { taskEndedKey, type CallError, type KeySpaces } from '@volley/shared';
import type { Redis } from 'ioredis';

/** The ended mark of a fan-out of no task only has to outlive its calls' last pick-up. */
const ENDED_MARK_TTL_SECONDS = 3600;

/**
 * Sets the ended mark of a bare fan-out (its id is its calls' `taskId`): from then on no call of
 * it starts, since workers check the mark at pick-up and poll it while a call runs. Whatever set
 * it first, a deadline or a cancel, only its being there counts.
 */
export async function markFanOutEnded(
  deps: { redis: Redis; spaces: KeySpaces },
  id: string,
  ending: { status: 'failed' | 'cancelled'; error: CallError },
): Promise<void> {
  await deps.redis.set(taskEndedKey(deps.spaces.of(id), id), JSON.stringify({ ...ending, at: Date.now() }), 'EX', ENDED_MARK_TTL_SECONDS);
}
