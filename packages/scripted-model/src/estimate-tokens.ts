/**
 * A token ESTIMATE, not a tokenizer count: roughly four characters per token for English
 * and JSON. Real models bill differently; the number is only meant to move the way a real
 * count would (bigger prompt, bigger number) so usage accounting can be exercised.
 */
export function estimateTokens(text: string): number {
  return Math.ceil(text.length / 4);
}
