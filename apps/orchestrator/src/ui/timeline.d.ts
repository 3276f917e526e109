/** Types of `timeline.js` (plain JS, served as is to the browser), for its tests. */
export interface Call {
  id: string;
  name: string | undefined;
  status: string;
  workerId: string | undefined;
  marks: { queued?: number; lock?: number; approval?: number; decided?: number; started?: number; finished?: number };
  approval: { requestedAt?: number; decidedAt?: number; approve?: boolean; reason?: string } | undefined;
}
export interface Turn {
  index: number;
  llm: { startedAt: number; finishedAt?: number; error?: unknown } | undefined;
  calls: Map<string, Call>;
}
export interface Timeline {
  turns: Map<number, Turn>;
  firstAt: number | undefined;
  lastAt: number | undefined;
  status: string | undefined;
  finished: boolean;
}
export interface Segment {
  kind: 'queue' | 'lock' | 'approval' | 'run';
  from: number;
  to: number;
  live: boolean;
}
export function createTimeline(): Timeline;
export function applyEvent(timeline: Timeline, name: string, data: Record<string, unknown>): void;
export function applyPendingApproval(timeline: Timeline, pending: Record<string, unknown>, turnIndex: number): void;
export function findCall(timeline: Timeline, id: string): Call | undefined;
export function isPending(call: Call): boolean;
export function segmentsOf(call: Call, now: number): Segment[];
