import { execFile } from 'node:child_process';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';

const run = promisify(execFile);
const repoRoot = fileURLToPath(new URL('../../../../', import.meta.url));

/** The workspaces that are published, in the order their builds depend on each other. */
export const PUBLISHED = ['@volley/tools', '@volley/api-schemas', '@volley/client'] as const;

/**
 * The optional peer dependencies of `@volley/client`'s adapters, by subpath: installed beside the
 * tarballs at the versions this repository has, so npm finds them in its cache.
 */
export const ADAPTER_PEERS = { 'ai-sdk': 'ai', 'openai-agents': '@openai/agents', langgraph: '@langchain/core' } as const;

export interface PackedInstall {
  /** An empty project outside the repository with the tarballs (and their dependencies) installed. */
  dir: string;
  tarballs: string[];
  /** Runs Node in the project with these arguments only: none of this repository's flags or export conditions. */
  node(args: string[], env?: Record<string, string>): Promise<{ stdout: string; stderr: string }>;
  remove(): Promise<void>;
}

/**
 * What a user gets: `npm pack` of each published workspace (its `prepack` builds dist/), then
 * `npm install` of the tarballs (and the adapters' frameworks) into a fresh folder under the OS
 * temp dir, where no workspace link or parent node_modules can help. Dependencies come from the
 * npm cache when it has them.
 */
export async function installPackedPackages(): Promise<PackedInstall> {
  const root = await mkdtemp(join(tmpdir(), 'volley-packed-'));
  const env = npmEnv();
  const packed = await run('npm', ['pack', '--json', '--pack-destination', root, ...PUBLISHED.flatMap((name) => ['-w', name])], {
    cwd: repoRoot,
    env,
    maxBuffer: 16 * 1024 * 1024,
  });
  const tarballs = (JSON.parse(packed.stdout) as Array<{ filename: string }>).map((entry) => join(root, entry.filename));
  const dir = join(root, 'project');
  await mkdir(dir);
  await writeFile(join(dir, 'package.json'), JSON.stringify({ name: 'volley-packed-check', private: true, type: 'module' }));
  const peers = await Promise.all(Object.values(ADAPTER_PEERS).map(async (name) => `${name}@${await installedVersion(name)}`));
  await run('npm', ['install', '--prefer-offline', '--no-audit', '--no-fund', '--loglevel=error', ...tarballs, ...peers], { cwd: dir, env });
  return {
    dir,
    tarballs,
    node: (args, extra = {}) => run(process.execPath, args, { cwd: dir, env: { PATH: process.env.PATH ?? '', ...extra }, maxBuffer: 16 * 1024 * 1024 }),
    remove: () => rm(root, { recursive: true, force: true }),
  };
}

async function installedVersion(name: string): Promise<string> {
  return (JSON.parse(await readFile(join(repoRoot, 'node_modules', name, 'package.json'), 'utf8')) as { version: string }).version;
}

/** The environment without what `npm test` sets for its own run (npm_config_*, npm_package_*…). */
function npmEnv(): NodeJS.ProcessEnv {
  return Object.fromEntries(Object.entries(process.env).filter(([name]) => !name.toLowerCase().startsWith('npm_')));
}

/** attw (`@arethetypeswrong/cli`) on a tarball: rejects with its report unless it finds no problem. */
export function areTheTypesWrong(tarball: string): Promise<{ stdout: string; stderr: string }> {
  // ESM only: a `require()` of the packages (node16 from CJS, node10) is not supported.
  return run(process.execPath, [join(repoRoot, 'node_modules/@arethetypeswrong/cli/dist/index.js'), tarball, '--profile', 'esm-only', '--format', 'ascii'], {
    cwd: repoRoot,
  });
}

/** The TypeScript compiler of this repository, run on a project elsewhere. */
export function typeCheck(dir: string): Promise<{ stdout: string; stderr: string }> {
  return run(process.execPath, [join(repoRoot, 'node_modules/typescript/bin/tsc'), '-p', join(dir, 'tsconfig.json')], { cwd: dir });
}
