/**
 * The consumer groups' lag, read with the Kafka admin API. This runs in the lag reader's
 * process (`reader-main.ts`), never in the relay's: see `watch.ts` for why.
 */
import type { Logger } from 'pino';
import { committedOffsets, partitionKey, watermarks, type Kafka, type KafkaOptions } from '@tenant-sync/kafka';

/** How often the consumer groups' lag is read. */
export const READ_EVERY_MS = 500;

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
      if (seen && seen.total === total && lag > 0) return at - seen.movedAt < stalledAfterMs;
      last.set(group, { total, movedAt: at });
      return true;
    },
  };
}

/**
 * The applied rate is measured over about this long: a consumer commits a few times a second,
 * and a partition's offset may stand still while it works a round.
 */
const APPLIED_OVER_MS = 2_000;

/**
 * Messages a second a group committed past over its readings of the last `overMs` (or its
 * first reading, when younger), over the partitions it committed on in both (a partition it
 * commits on for the first time would count its whole offset). The first reading of a group
 * has no rate. Over one 500 ms reading the rate swung from 0 to 12,000 while the consumer
 * applied 5,000–9,000 a second: its commits come in steps.
 */
export function createAppliedRate(now: () => number = () => performance.now(), overMs = APPLIED_OVER_MS) {
  const readings = new Map<string, Array<{ committed: ReadonlyMap<string, bigint>; at: number }>>();
  return (group: string, committed: ReadonlyMap<string, bigint>): number | undefined => {
    const at = now();
    let history = readings.get(group);
    if (!history) readings.set(group, (history = []));
    history.push({ committed, at });
    // The oldest reading kept is the last one at least `overMs` old.
    while (history.length > 2 && at - history[1]!.at >= overMs) history.shift();
    const since = history[0]!;
    if (since.at >= at) return undefined;
    let applied = 0n;
    for (const [partition, offset] of committed) {
      const before = since.committed.get(partition);
      if (before !== undefined && offset > before) applied += offset - before;
    }
    return (Number(applied) * 1000) / (at - since.at);
  };
}

/** What the lag reader sends the relay every `READ_EVERY_MS`. */
export interface DownstreamReading {
  /** Messages the slowest consuming group is behind. */
  lag: number;
  /** Messages a second that group committed past over about the last two seconds (`createAppliedRate`); none on its first reading. */
  appliedPerSecond?: number;
}

export interface LagReadsOptions {
  kafka: Kafka;
  groups: readonly string[];
  /** The events topics the relay has published to so far. */
  topics: () => readonly string[];
  logger: Logger;
  onRead: (reading: DownstreamReading) => void;
}

/**
 * Reads the largest lag among the consumer groups that are consuming, and what that group
 * applies a second, every `READ_EVERY_MS`, with one admin client; a read that fails reports a
 * lag of 0: not knowing must not stop the relay.
 * Runs in the lag reader's process only (`reader-main.ts`).
 */
export function startLagReads({ kafka, groups, topics, logger, onRead }: LagReadsOptions) {
  const admin = kafka.admin();
  const progress = createProgressTracker();
  const appliedRate = createAppliedRate();
  let timer: NodeJS.Timeout | undefined;
  let connected: Promise<void> | undefined;
  let stopped = false;
  let failing = false;

  async function read(): Promise<void> {
    const present = topics();
    if (present.length === 0) return;
    connected ??= admin.connect().catch((error: unknown) => {
      connected = undefined;
      throw error;
    });
    await connected;
    const high = new Map((await watermarks(admin, present)).map(({ topic, partition, high: end }) => [partitionKey(topic, partition), end]));
    let slowest: DownstreamReading = { lag: 0 };
    for (const group of groups) {
      const offsets = { committed: await committedOffsets(admin, group, present), high };
      const lag = lagOf(offsets);
      const appliedPerSecond = appliedRate(group, offsets.committed);
      if (progress.consuming(group, offsets, lag) && lag >= slowest.lag) slowest = { lag, appliedPerSecond };
    }
    onRead(slowest);
    if (failing) logger.info('the consumer groups lag is read again');
    failing = false;
  }

  function schedule(): void {
    if (stopped) return;
    timer = setTimeout(() => {
      read()
        .catch((error: unknown) => {
          onRead({ lag: 0 });
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
    async stop(): Promise<void> {
      stopped = true;
      clearTimeout(timer);
      if (connected) await connected.then(() => admin.disconnect()).catch(() => {});
    },
  };
}

/** What the lag reader is sent at its start. */
export interface LagReaderStart {
  kafka: Pick<KafkaOptions, 'brokers' | 'security'>;
  groups: readonly string[];
  logLevel: string;
}
