import { existsSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

// Static checks of what the repository says about itself: licence, engines, changelog.

const repoPath = (path: string): string => fileURLToPath(new URL(`../../../${path}`, import.meta.url));
const read = (path: string): string => readFileSync(repoPath(path), 'utf8');

interface PackageJson {
  name: string;
  license?: string;
  workspaces?: string[];
  engines?: { node?: string };
  devEngines?: { runtime?: { name: string; version: string }; packageManager?: { name: string; version: string } };
}

const root = JSON.parse(read('package.json')) as PackageJson;
const workspaces = (root.workspaces ?? []).map((dir) => ({ dir, json: JSON.parse(read(`${dir}/package.json`)) as PackageJson }));

describe('licence', () => {
  it('is Apache-2.0 in LICENSE and in every package.json', () => {
    expect(read('LICENSE')).toMatch(/^\s+Apache License\s+Version 2\.0, January 2004/);
    expect(root.license).toBe('Apache-2.0');
    for (const { dir, json } of workspaces) expect(json.license, dir).toBe('Apache-2.0');
  });

  it('leaves the corpus its own attribution', () => {
    expect(read('apps/orchestrator/test/fixtures/corpus/README.md')).toMatch(/## Sources and licences[\s\S]*Apache-2\.0/);
  });
});

describe('engines', () => {
  it('asks for Node 22.18 (type stripping) and npm, at run time and in development', () => {
    expect(root.engines?.node).toBe('>=22.18.0');
    expect(root.devEngines?.runtime).toMatchObject({ name: 'node', version: root.engines?.node });
    expect(root.devEngines?.packageManager).toMatchObject({ name: 'npm' });
    // The lockfile is npm's: another package manager would not read it.
    expect(existsSync(repoPath('package-lock.json'))).toBe(true);
  });

  it('names in .nvmrc the major version CI and the image run', () => {
    const major = read('.nvmrc').trim();
    expect(major).toMatch(/^\d+$/);
    expect(Number(major)).toBeGreaterThanOrEqual(22);
    expect(read('infra/Dockerfile')).toMatch(new RegExp(`^FROM node:${major}-slim\\b`, 'm'));
  });
});

describe('CHANGELOG.md', () => {
  it('keeps a changelog: Unreleased first, then 0.1.0 with its date', () => {
    const changelog = read('CHANGELOG.md');
    expect(changelog).toContain('[Keep a Changelog](https://keepachangelog.com/');
    const versions = [...changelog.matchAll(/^## \[([^\]]+)\]/gm)].map((match) => match[1]);
    expect(versions[0]).toBe('Unreleased');
    expect(versions).toContain('0.1.0');
    expect(changelog).toMatch(/^## \[0\.1\.0\] - \d{4}-\d{2}-\d{2}$/m);
  });
});
