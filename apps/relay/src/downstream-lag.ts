import { fork, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import type { Logger } from 'pino';
import type { Kafka, KafkaOptions } from '@tenant-sync/kafka';

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

export interface LagReadsOptions {
  kafka: Kafka;
  groups: readonly string[];
  /** The events topics the relay has published to so far. */
  topics: () => readonly string[];
  logger: Logger;
  onRead: (lag: number) => void;
}

/**
 * Reads the largest lag among the consumer groups that are consuming every `READ_EVERY_MS`,
 * with one admin client; a read that fails reports 0: not knowing must not stop the relay.
 * Runs in the lag reader's process only (`lag-reader.ts`, see `watchDownstreamLag`).
 */
export function startLagReads({ kafka, groups, topics, logger, onRead }: LagReadsOptions) {
  const admin = kafka.admin();
  const progress = createProgressTracker();
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
    onRead(largest);
    if (failing) logger.info('the consumer groups lag is read again');
    failing = false;
  }

  function schedule(): void {
    if (stopped) return;
    timer = setTimeout(() => {
      read()
        .catch((error: unknown) => {
          onRead(0);
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

/** The lag reader's entry point. */
const LAG_READER = fileURLToPath(new URL('./lag-reader.ts', import.meta.url));

/** A send to a reader that has just died: its 'exit' handles that. */
const ignoreClosedChannel = () => {};

/** How long after the lag reader died it is started again. */
const RESTART_AFTER_MS = 5_000;

/** What the lag reader is sent at its start. */
export interface LagReaderStart {
  kafka: Pick<KafkaOptions, 'brokers' | 'security'>;
  groups: readonly string[];
  logLevel: string;
}

export interface DownstreamLagOptions {
  /** The brokers and the relay's Kafka security, sent to the reader over its IPC channel, not in its environment. */
  kafka: LagReaderStart['kafka'];
  groups: readonly string[];
  /** The events topics the relay has published to so far. */
  topics: () => readonly string[];
  logger: Logger;
  onRead?: (lag: number) => void;
  logLevel?: string;
}

/**
 * The consumers' lag, read by a child process (`lag-reader.ts`) and sent here. Not in the
 * relay's process: librdkafka's admin requests to a group coordinator can abort the whole
 * process when a broker connection drops (`rd_kafka_enq_once_del_source_return: Assertion
 * 'eonce->refcnt > 0' failed`, confluentinc/librdkafka#3663, #4605), as a 30 s broker outage
 * in relay-process.test.ts showed. When the reader dies the lag counts as 0 and it is started
 * again after `RESTART_AFTER_MS`; it exits by itself when the relay is gone (its IPC channel
 * closes).
 */
export function watchDownstreamLag({ kafka, groups, topics, logger, onRead, logLevel = 'info' }: DownstreamLagOptions) {
  let lag = 0;
  let reader: ChildProcess | undefined;
  let stopped = false;
  const timers = new Set<NodeJS.Timeout>();

  function start(): void {
    const child = fork(LAG_READER, [], { execArgv: [], stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
    reader = child;
    // A process that could not start, or a message to one that just died, must not take the
    // relay down: with a callback a failed send is reported there, not as an unhandled 'error'.
    child.on('error', (error) => logger.warn({ err: error }, 'the lag reader failed'));
    child.send({ kafka, groups, logLevel } satisfies LagReaderStart, ignoreClosedChannel);
    child.on('message', (message: { lag?: unknown }) => {
      if (typeof message.lag !== 'number') return;
      lag = message.lag;
      onRead?.(lag);
    });
    child.on('exit', (code, signal) => {
      lag = 0;
      reader = undefined;
      if (stopped) return;
      logger.warn({ code, signal, restartInMs: RESTART_AFTER_MS }, 'the lag reader stopped; publishing without RELAY_MAX_LAG until it reads again');
      const timer = setTimeout(() => {
        timers.delete(timer);
        if (!stopped) start();
      }, RESTART_AFTER_MS);
      timer.unref();
      timers.add(timer);
    });
  }

  // The reader learns the topics as the relay meets them.
  const sendTopics = setInterval(() => {
    if (reader?.connected) reader.send({ topics: topics() }, ignoreClosedChannel);
  }, READ_EVERY_MS);
  sendTopics.unref();
  start();

  return {
    /** Messages the slowest consuming group is behind, as last read. */
    current: () => lag,
    /** The reader's process id, while it runs. */
    readerPid: () => reader?.pid,
    async stop(): Promise<void> {
      stopped = true;
      clearInterval(sendTopics);
      for (const timer of timers) clearTimeout(timer);
      const child = reader;
      if (!child) return;
      const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
      child.kill('SIGTERM');
      const killLater = setTimeout(() => child.kill('SIGKILL'), 3_000);
      await exited;
      clearTimeout(killLater);
    },
  };
}

export type DownstreamLag = ReturnType<typeof watchDownstreamLag>;
