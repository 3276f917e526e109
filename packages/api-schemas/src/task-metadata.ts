import { z } from 'zod';

export const MAX_METADATA_PAIRS = 16;
/** Keys: 1–64 of letters, digits, `_`, `-`, `.` (safe in a query string as `metadata.<key>`). */
export const METADATA_KEY_PATTERN = /^[A-Za-z0-9_.-]{1,64}$/;
export const MAX_METADATA_VALUE_LENGTH = 512;

export const metadataValueSchema = z.string().max(MAX_METADATA_VALUE_LENGTH, `a metadata value is at most ${MAX_METADATA_VALUE_LENGTH} characters`);

/** A task's own labels, given at submission, kept on its record and summaries, filterable in listings. */
export const metadataSchema = z
  .record(z.string().regex(METADATA_KEY_PATTERN, 'a metadata key is 1 to 64 letters, digits, "_", "-" or "."'), metadataValueSchema)
  .refine((pairs) => Object.keys(pairs).length <= MAX_METADATA_PAIRS, `metadata holds at most ${MAX_METADATA_PAIRS} pairs`);

export type TaskMetadata = z.infer<typeof metadataSchema>;
