import type { Admin } from './create-kafka.ts';

/** The key of one partition in `committedOffsets`: `topic:partition`. */
export const partitionKey = (topic: string, partition: number): string => `${topic}:${partition}`;

export interface PartitionWatermarks {
  topic: string;
  partition: number;
  /** The first offset still in the partition. */
  low: bigint;
  /** The offset the next message written will get. */
  high: bigint;
}

/** The low and high watermarks of every partition of `topics`. */
export async function watermarks(admin: Admin, topics: readonly string[]): Promise<PartitionWatermarks[]> {
  const ends: PartitionWatermarks[] = [];
  for (const topic of topics) {
    for (const { partition, low, high } of await admin.fetchTopicOffsets(topic)) ends.push({ topic, partition, low: BigInt(low), high: BigInt(high) });
  }
  return ends;
}

/**
 * The offsets `groupId` committed on `topics` (the next message it will read), by
 * `partitionKey`; a partition the group never committed on is absent.
 */
export async function committedOffsets(admin: Admin, groupId: string, topics: readonly string[]): Promise<Map<string, bigint>> {
  const committed = new Map<string, bigint>();
  for (const { topic, partitions } of await admin.fetchOffsets({ groupId, topics: [...topics] })) {
    for (const { partition, offset } of partitions) if (BigInt(offset) >= 0n) committed.set(partitionKey(topic, partition), BigInt(offset));
  }
  return committed;
}
