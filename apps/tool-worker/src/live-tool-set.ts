import type { PublishedTool } from '@volley/shared';
import { createToolSet, type LoadedTool, type ToolSet, type ToolSource } from './tool-set.ts';

/**
 * The tools a worker serves while it runs: its modules' and built-ins' for good, its MCP
 * servers' as the servers list them. Calls look their tool up in `tools` when they run; a
 * rebuild swaps the entries in one synchronous step, so no call sees half of a change.
 */
export class LiveToolSet {
  private readonly entries = new Map<string, LoadedTool>();
  private readonly fixed: readonly ToolSource[];
  private readonly changing: () => readonly ToolSource[];

  /** Builds the first set at once: a bad tool or a name used twice throws here, at start. */
  constructor(fixed: readonly ToolSource[], changing: () => readonly ToolSource[] = () => []) {
    this.fixed = fixed;
    this.changing = changing;
    this.rebuild();
  }

  get tools(): ToolSet {
    return this.entries;
  }

  /**
   * Reads the changing sources again and says whether what is published changed (a restart or a
   * list_changed often lists the same tools again). Throws (ToolDefinitionError) and keeps the
   * set as it was when they do not fit.
   */
  rebuild(): boolean {
    const before = this.entries.size === 0 ? undefined : JSON.stringify(this.published());
    const next = createToolSet([...this.fixed, ...this.changing()]);
    this.entries.clear();
    for (const [name, loaded] of next) this.entries.set(name, loaded);
    return JSON.stringify(this.published()) !== before;
  }

  published(): PublishedTool[] {
    return [...this.entries.values()].map((loaded) => loaded.published);
  }
}
