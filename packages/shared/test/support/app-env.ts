import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { z } from 'zod';
import { orchestratorConfigSchema } from '../../../../apps/orchestrator/src/config.ts';
import { workerConfigSchema } from '../../../../apps/tool-worker/src/config.ts';
import { parseEnv } from '../../src/config.ts';

// What the deployment files (docker-compose.yml, infra/k8s) may set for each app, taken from the
// apps' own config schemas, so a misspelt or retired variable fails a test instead of being
// silently ignored by the app.

export type App = 'orchestrator' | 'tool-worker';

const SCHEMAS = { orchestrator: orchestratorConfigSchema, 'tool-worker': workerConfigSchema } as const;

/** Variables read outside the config schemas: the OpenTelemetry SDK's and Node's own. */
const OUTSIDE_SCHEMA = /^(OTEL_|NODE_)/;

/** The variable names of an app's config schema (under any refinements and transforms). */
export function configVariables(app: App): Set<string> {
  let schema: unknown = SCHEMAS[app];
  while (schema instanceof z.ZodPipe) schema = schema.in;
  if (!(schema instanceof z.ZodObject)) throw new Error(`the ${app} config schema is not an object schema`);
  return new Set(Object.keys(schema.shape));
}

/** The names among `names` that the app does not read. */
export function unknownVariables(app: App, names: Iterable<string>): string[] {
  const known = configVariables(app);
  return [...names].filter((name) => !known.has(name) && !OUTSIDE_SCHEMA.test(name));
}

/**
 * Parses an environment as the app would at start; throws the app's own message when it would
 * exit. `files` are what the app would find on disk (e.g. a mounted Secret): a variable naming
 * one of them reads a temporary copy.
 */
export function parseAppEnv(app: App, env: Record<string, string>, files: ReadonlyMap<string, string> = new Map()): Record<string, unknown> {
  if (files.size === 0) return parseEnv(SCHEMAS[app], env) as Record<string, unknown>;
  const root = mkdtempSync(join(tmpdir(), 'volley-mounted-'));
  try {
    for (const [path, content] of files) {
      mkdirSync(dirname(join(root, path)), { recursive: true });
      writeFileSync(join(root, path), content);
    }
    const local = Object.fromEntries(Object.entries(env).map(([name, value]) => [name, files.has(value) ? join(root, value) : value]));
    return parseEnv(SCHEMAS[app], local) as Record<string, unknown>;
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
}
