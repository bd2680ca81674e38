import type { Logger } from 'pino';
import type { Consumer } from '@tenant-sync/kafka';

export interface PartitionProgressOptions {
  consumer: Pick<Consumer, 'commitOffsets'>;
  topic: string;
  partition: number;
  logger: Logger;
  /** Hears the lag behind the high watermark after each commit. */
  onCommitted?: (lag: number) => void;
  /** Commits are gathered for this long. */
  commitIntervalMs?: number;
}

/**
 * What has become of the messages read from one partition, whose references are applied out
 * of order across tenant lanes. The committed offset is always the oldest message not yet
 * finished (applied or dead-lettered), or just past the last one read when all are: a crash
 * re-delivers everything unfinished and nothing else is lost.
 */
export function createPartitionProgress({ consumer, topic, partition, logger, onCommitted, commitIntervalMs = 200 }: PartitionProgressOptions) {
  let read: bigint[] = [];
  let head = 0;
  const finished = new Set<bigint>();
  let lastRead = -1n;
  let highWatermark = 0n;
  let committed = -1n;
  let abandoned = false;
  let timer: NodeJS.Timeout | undefined;
  let waiters: Array<{ below: number; wake: () => void }> = [];

  const unfinished = () => read.length - head;
  const commitPoint = () => (head < read.length ? read[head]! : lastRead + 1n);

  async function commit(): Promise<void> {
    timer = undefined;
    const point = commitPoint();
    if (abandoned || point <= committed) return;
    try {
      await consumer.commitOffsets([{ topic, partition, offset: String(point) }]);
      committed = point;
      onCommitted?.(Number(highWatermark > point ? highWatermark - point : 0n));
    } catch (error) {
      // Revoked meanwhile, or the broker away: the next commit carries the same point or a later one.
      logger.debug({ err: error, partition, offset: String(point) }, 'offset commit failed');
    }
  }

  return {
    topic,
    partition,
    /** A message of the partition was read; offsets arrive in increasing order. */
    read(offset: string, watermark: string): void {
      const value = BigInt(offset);
      read.push(value);
      lastRead = value;
      highWatermark = BigInt(watermark);
    },
    /** A message was applied or dead-lettered. */
    finish(offset: string): void {
      if (abandoned) return;
      finished.add(BigInt(offset));
      while (head < read.length && finished.delete(read[head]!)) head += 1;
      if (head > 10_000) {
        read = read.slice(head);
        head = 0;
      }
      waiters = waiters.filter(({ below, wake }) => (unfinished() < below ? (wake(), false) : true));
      timer ??= setTimeout(() => void commit(), commitIntervalMs);
    },
    /** Messages read and not finished yet. */
    unfinished,
    /** The offset the next message of an uninterrupted read would have. */
    nextOffset: () => lastRead + 1n,
    /** Calls `wake` once fewer than `below` messages are unfinished. */
    whenBelow(below: number, wake: () => void): void {
      if (unfinished() < below) wake();
      else waiters.push({ below, wake });
    },
    /** The partition was revoked or re-read from an earlier offset: this progress commits nothing more. */
    abandon(): void {
      abandoned = true;
      clearTimeout(timer);
      waiters = [];
    },
    /** Commits what is finished now (on stop). */
    async flush(): Promise<void> {
      clearTimeout(timer);
      await commit();
    },
  };
}

export type PartitionProgress = ReturnType<typeof createPartitionProgress>;
