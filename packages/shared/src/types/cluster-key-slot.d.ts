// cluster-key-slot (the slot function ioredis routes by) ships no types of its own.
declare module 'cluster-key-slot' {
  /** The Redis Cluster hash slot (0–16383) of a key, honouring a `{hash tag}`. */
  function calculateSlot(key: string): number;
  export default calculateSlot;
}
