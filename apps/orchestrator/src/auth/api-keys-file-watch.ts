import { unwatchFile, watchFile, type Stats } from 'node:fs';
import { resolve } from 'node:path';
import type { Logger } from '@volley/shared';
import { ApiKeyring, type ApiKeyEntry } from './api-keys.ts';
import type { Security } from './security.ts';

/** A stat every 2 s costs nothing; a rotated key is live within that. */
const CHECK_INTERVAL_MS = 2_000;

export interface ApiKeysFileWatchDeps {
  security: Security;
  /** The file named by VOLLEY_API_KEYS_FILE. */
  path: string;
  /**
   * The keys as the whole configuration parses now: the same schema and cross-checks as at
   * start (tool rules and dashboard tenants must still name known tenants). Throws when they fail.
   */
  readKeys: () => ApiKeyEntry[];
  logger: Logger;
}

/**
 * Rotates API keys without a restart: on SIGHUP, and whenever the key file changes (a
 * Kubernetes Secret volume swaps it in place), the keys are read again. A file that fails
 * the checks leaves the keys in force as they were, and says why. Returns the stop function.
 */
export function watchApiKeysFile(deps: ApiKeysFileWatchDeps): () => void {
  const path = resolve(deps.path);
  const reload = (reason: string) => {
    let entries: ApiKeyEntry[];
    try {
      entries = deps.readKeys();
    } catch (error) {
      deps.logger.error({ reason, path, problem: error instanceof Error ? error.message : String(error) }, 'API keys not reloaded: the old keys stay in force');
      return;
    }
    const keyring = new ApiKeyring(entries);
    deps.security.keyring = keyring;
    deps.logger.info({ reason, path, keys: keyring.size, tenants: [...keyring.tenants].sort() }, 'API keys reloaded');
  };
  const onSignal = () => reload('SIGHUP');
  const onChange = (current: Stats, previous: Stats) => {
    if (current.mtimeMs !== previous.mtimeMs || current.ino !== previous.ino || current.size !== previous.size) reload('file changed');
  };
  process.on('SIGHUP', onSignal);
  watchFile(path, { interval: CHECK_INTERVAL_MS, persistent: false }, onChange);
  return () => {
    process.off('SIGHUP', onSignal);
    unwatchFile(path, onChange);
  };
}
