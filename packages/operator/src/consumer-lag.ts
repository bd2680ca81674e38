import { committedOffsets, partitionKey, watermarks, type Kafka } from '@tenant-sync/kafka';

/** How far a consumer group is behind on one partition. */
export interface PartitionLag {
  topic: string;
  partition: number;
  /** The group's committed offset (the next message it will read); null when it committed none. */
  committed: string | null;
  /** The partition's high watermark: the offset the next message written will get. */
  high: string;
  /** Messages between the two; from the low watermark when the group committed nothing. */
  lag: number;
}

/**
 * The lag of `groupId` on every partition of each of `topics` that exists: committed group
 * offsets against high watermarks, read with the Kafka admin API. A topic not yet created has
 * no partitions and is left out.
 */
export async function consumerLag(kafka: Kafka, groupId: string, topics: readonly string[]): Promise<PartitionLag[]> {
  const admin = kafka.admin();
  await admin.connect();
  try {
    const existing = new Set(await admin.listTopics());
    const present = topics.filter((topic) => existing.has(topic));
    if (present.length === 0) return [];
    const committed = await committedOffsets(admin, groupId, present);
    const lags: PartitionLag[] = [];
    for (const { topic, partition, low, high } of await watermarks(admin, present)) {
      const offset = committed.get(partitionKey(topic, partition));
      const from = offset ?? low;
      lags.push({ topic, partition, committed: offset === undefined ? null : String(offset), high: String(high), lag: Number(high > from ? high - from : 0n) });
    }
    return lags.sort((a, b) => a.topic.localeCompare(b.topic) || a.partition - b.partition);
  } finally {
    await admin.disconnect();
  }
}

/** The topics of `topics` that exist on the cluster. */
export async function existingTopics(kafka: Kafka, topics: readonly string[]): Promise<string[]> {
  const admin = kafka.admin();
  await admin.connect();
  try {
    const existing = new Set(await admin.listTopics());
    return topics.filter((topic) => existing.has(topic));
  } finally {
    await admin.disconnect();
  }
}
