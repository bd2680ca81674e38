import type { Logger } from 'pino';
import type { Kafka } from '@tenant-sync/kafka';

/** How often the consumer groups' lag is read. */
const READ_EVERY_MS = 500;

/**
 * A group whose committed offsets have not moved for this long, though it is behind, is not
 * consuming (stopped, or stuck on one reference): it does not hold the relay back. Kafka, not
 * the outbox, is the buffer for a consumer that is down.
 */
const STALLED_AFTER_MS = 10_000;

export interface GroupOffsets {
  /** Offsets committed by the group, per `topic:partition`; a partition it never committed is absent. */
  committed: ReadonlyMap<string, bigint>;
  /** High watermarks per `topic:partition`. */
  high: ReadonlyMap<string, bigint>;
}

/** Messages the group has not finished: committed offset to high watermark, over the partitions it committed on. */
export function lagOf({ committed, high }: GroupOffsets): number {
  let lag = 0n;
  for (const [partition, offset] of committed) {
    const end = high.get(partition);
    if (end !== undefined && end > offset) lag += end - offset;
  }
  return Number(lag);
}

/**
 * Which groups are consuming: a group counts as long as its committed offsets moved within
 * `stalledAfterMs` or it is not behind.
 */
export function createProgressTracker(stalledAfterMs = STALLED_AFTER_MS, now: () => number = () => performance.now()) {
  const last = new Map<string, { total: bigint; movedAt: number }>();
  return {
    /** Records the group's offsets; true while it consumes. */
    consuming(group: string, offsets: GroupOffsets, lag: number): boolean {
      let total = 0n;
      for (const offset of offsets.committed.values()) total += offset;
      const at = now();
      const seen = last.get(group);
      if (!seen || seen.total !== total || lag === 0) last.set(group, { total, movedAt: at });
      return lag === 0 || at - (last.get(group)?.movedAt ?? at) < stalledAfterMs;
    },
  };
}

export interface DownstreamLagOptions {
  kafka: Kafka;
  groups: readonly string[];
  /** The events topics the relay has published to so far. */
  topics: () => readonly string[];
  logger: Logger;
  onRead?: (lag: number) => void;
}

/**
 * The largest lag among the consumer groups that are consuming, read every `READ_EVERY_MS` with
 * one admin client. A read that fails leaves the lag at 0: not knowing must not stop the relay.
 */
export function watchDownstreamLag({ kafka, groups, topics, logger, onRead }: DownstreamLagOptions) {
  const admin = kafka.admin();
  const progress = createProgressTracker();
  let lag = 0;
  let timer: NodeJS.Timeout | undefined;
  let connected: Promise<void> | undefined;
  let stopped = false;
  let failing = false;

  async function offsetsOf(group: string, present: readonly string[], high: ReadonlyMap<string, bigint>): Promise<GroupOffsets> {
    const committed = new Map<string, bigint>();
    for (const { topic, partitions } of await admin.fetchOffsets({ groupId: group, topics: [...present] })) {
      for (const { partition, offset } of partitions) if (BigInt(offset) >= 0n) committed.set(`${topic}:${partition}`, BigInt(offset));
    }
    return { committed, high };
  }

  async function read(): Promise<void> {
    const present = topics();
    if (present.length === 0) return;
    connected ??= admin.connect().catch((error: unknown) => {
      connected = undefined;
      throw error;
    });
    await connected;
    const high = new Map<string, bigint>();
    for (const topic of present) {
      for (const { partition, high: end } of await admin.fetchTopicOffsets(topic)) high.set(`${topic}:${partition}`, BigInt(end));
    }
    let largest = 0;
    for (const group of groups) {
      const offsets = await offsetsOf(group, present, high);
      const groupLag = lagOf(offsets);
      if (progress.consuming(group, offsets, groupLag)) largest = Math.max(largest, groupLag);
    }
    lag = largest;
    onRead?.(lag);
    if (failing) logger.info('the consumer groups lag is read again');
    failing = false;
  }

  function schedule(): void {
    if (stopped) return;
    timer = setTimeout(() => {
      read()
        .catch((error: unknown) => {
          lag = 0;
          // Once per outage: a missing ACL would otherwise say so twice a second.
          if (!failing) logger.warn({ err: error, groups }, 'could not read the consumer groups lag; publishing without RELAY_MAX_LAG until it can');
          failing = true;
        })
        .finally(schedule);
    }, READ_EVERY_MS);
    timer.unref();
  }
  schedule();

  return {
    /** Messages the slowest consuming group is behind, as last read. */
    current: () => lag,
    async stop(): Promise<void> {
      stopped = true;
      clearTimeout(timer);
      if (connected) await connected.then(() => admin.disconnect()).catch(() => {});
    },
  };
}

export type DownstreamLag = ReturnType<typeof watchDownstreamLag>;
