/** The label value that stands for every value past a limit. */
export const OTHER_LABEL_VALUE = '_other';

/**
 * Caps how many distinct values a label takes, for labels a client chooses (a task's model):
 * the first `max` values seen are kept, later new ones become `_other`, so a client cannot
 * grow the process's series without bound.
 */
export function limitLabelValues(max: number): (value: string) => string {
  const seen = new Set<string>();
  return (value) => {
    if (seen.has(value)) return value;
    if (seen.size >= max) return OTHER_LABEL_VALUE;
    seen.add(value);
    return value;
  };
}
