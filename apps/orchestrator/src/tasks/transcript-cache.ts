import type { ChatMessage } from '@volley/shared';

/** A task's transcript as this process last read or wrote it, with the size of its stored JSON. */
export interface CachedTranscript {
  messages: readonly ChatMessage[];
  bytes: number;
}

/**
 * The transcripts of the tasks this process stepped last, so that a step reads from Redis only
 * the messages added since (by this process or any other) instead of the whole list again.
 * Sound because a task's message list only grows: its first N entries never change while it
 * exists, so N cached messages plus what Redis holds past N is the transcript. Its messages are
 * never edited in place, so the cached objects are shared with the records handed out.
 *
 * Bounded by the stored bytes it holds: past `maxBytes` the least recently used go.
 */
export class TranscriptCache {
  private readonly maxBytes: number;
  private readonly entries = new Map<string, CachedTranscript>();
  private bytes = 0;

  constructor(maxBytes: number) {
    this.maxBytes = maxBytes;
  }

  get(id: string): CachedTranscript | undefined {
    const entry = this.entries.get(id);
    if (!entry) return undefined;
    // Map order is use order: the first entry is the least recently used.
    this.entries.delete(id);
    this.entries.set(id, entry);
    return entry;
  }

  set(id: string, transcript: CachedTranscript): void {
    this.delete(id);
    if (transcript.bytes > this.maxBytes) return;
    this.entries.set(id, transcript);
    this.bytes += transcript.bytes;
    for (const [oldest, entry] of this.entries) {
      if (this.bytes <= this.maxBytes) break;
      this.entries.delete(oldest);
      this.bytes -= entry.bytes;
    }
  }

  delete(id: string): void {
    const entry = this.entries.get(id);
    if (!entry) return;
    this.entries.delete(id);
    this.bytes -= entry.bytes;
  }
}
