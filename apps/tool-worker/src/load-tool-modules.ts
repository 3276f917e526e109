import { resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { ToolDefinitionError, type ToolSource } from './tool-set.ts';

/**
 * Imports each tool module (paths relative to `cwd`); a module's default export is an array
 * of tools. Every tool remembers which module it came from, for error messages.
 */
export async function loadToolModules(paths: readonly string[], cwd: string): Promise<ToolSource[]> {
  const sources: ToolSource[] = [];
  for (const path of paths) {
    const url = pathToFileURL(resolve(cwd, path)).href;
    let module: { default?: unknown };
    try {
      module = (await import(url)) as { default?: unknown };
    } catch (error) {
      throw new ToolDefinitionError(`cannot load tool module ${path}: ${(error as Error).message}`, { cause: error });
    }
    if (!Array.isArray(module.default)) {
      throw new ToolDefinitionError(`tool module ${path} must default-export an array of tools`);
    }
    for (const [index, tool] of module.default.entries()) sources.push({ tool, source: `${path}[${index}]` });
  }
  return sources;
}
