/** Names shared by the bare-BullMQ baseline's two processes; a prefix of its own keeps it apart from Volley's keys. */
export const BARE_PREFIX = 'bare';
/**
 * Parents per completion mode: a parent must be processed by the Worker of the BareFlow that
 * waits for it in `worker-event` mode, so two BareFlows never share a parent queue.
 */
export const BARE_PARENT_QUEUES = { 'worker-event': 'bare-turns', 'queue-events': 'bare-turns-qe' } as const;
export const BARE_CHILD_QUEUE = 'bare-tools';
export const BARE_DRAIN_QUEUE = 'bare-drain';

/** One tool call as a child job: what a model sends, nothing more. */
export interface BareCallData {
  id: string;
  name: string;
  arguments: string;
}
