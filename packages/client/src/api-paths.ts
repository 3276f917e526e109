/** A task's path under the base URL; the id is encoded, so no id can reach another route. */
export function taskPath(id: string): string {
  return `v1/tasks/${encodeURIComponent(id)}`;
}
