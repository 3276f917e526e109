import { z } from 'zod';
import { demoResponder } from './responders.ts';
import { startScriptedModel } from './scripted-model.ts';

const envSchema = z.object({
  SCRIPTED_MODEL_PORT: z.coerce.number().int().min(0).max(65535).default(8787),
  SCRIPTED_MODEL_HOST: z.string().default('127.0.0.1'),
  SCRIPTED_MODEL_LATENCY_MS: z.coerce.number().int().min(0).default(0),
});

function errorMessage(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

function fail(message: string): never {
  process.stderr.write(`${message}\n`);
  process.exit(1);
}

// Blank values count as unset, so `SCRIPTED_MODEL_PORT=` means the default rather than port 0.
const rawEnv = Object.fromEntries(Object.keys(envSchema.shape).map((key) => [key, process.env[key]?.trim() || undefined]));
const parsedEnv = envSchema.safeParse(rawEnv);
if (!parsedEnv.success) {
  const problems = parsedEnv.error.issues.map((issue) => {
    const name = String(issue.path[0]);
    return `  ${name}: ${issue.message} (got ${JSON.stringify(rawEnv[name])})`;
  });
  fail(`invalid configuration:\n${problems.join('\n')}`);
}
const config = parsedEnv.data;

const model = await startScriptedModel({
  respond: demoResponder,
  host: config.SCRIPTED_MODEL_HOST,
  port: config.SCRIPTED_MODEL_PORT,
  latencyMs: config.SCRIPTED_MODEL_LATENCY_MS,
}).catch((error: unknown) => fail(`scripted model failed to start: ${errorMessage(error)}`));

process.stdout.write(`${JSON.stringify({ msg: 'scripted model listening', url: model.url })}\n`);

// `once`: a second signal falls through to Node's default and kills the process outright.
for (const signal of ['SIGTERM', 'SIGINT'] as const) {
  process.once(signal, () => {
    model.close().catch((error: unknown) => fail(`scripted model failed to close: ${errorMessage(error)}`));
  });
}
