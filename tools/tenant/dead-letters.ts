import { DeadLetterHeaders, EventHeaders, isDeadLetterHeader, parseEntityEvent } from '@tenant-sync/contracts';
import type { Kafka, OffsetRange, StoredMessage } from '@tenant-sync/kafka';
import { readFromOffsets } from '@tenant-sync/kafka';

/** What the consumer recorded when it gave up on a message (see apps/consumer). */
export interface DeadLetter {
  partition: number;
  offset: string;
  /** The dead letter's Kafka timestamp, in ms; null when the broker has none. */
  timestamp: number | null;
  at: string | null;
  key: string | null;
  reason: string;
  code: string | null;
  orgId: string | null;
  entityId: string | null;
  original: { topic: string; partition: number; offset: string } | null;
  message: StoredMessage;
}

/** Which dead letters a bulk replay takes; every given field must match. */
export interface DeadLetterFilter {
  /** The `dlq-code` header, or the whole `dlq-reason` text. */
  reason?: string | undefined;
  orgId?: string | undefined;
  /** Kafka timestamps, in ms: at or after `since`, before `until`. */
  since?: number | undefined;
  until?: number | undefined;
}

type Progress = (read: number, total: number) => void;

type LooseEvent = { entity?: { id?: unknown }; tenant_context?: { org_id?: unknown } } | null;

function parseLoosely(value: Buffer | null): LooseEvent {
  try {
    return JSON.parse(value?.toString() ?? '') as LooseEvent;
  } catch {
    // A poison message that is not JSON: shown by its headers only.
    return null;
  }
}

function describe(message: StoredMessage): DeadLetter {
  const body = parseLoosely(message.value);
  const { headers } = message;
  const topic = headers[DeadLetterHeaders.originalTopic];
  const timestamp = Number(message.timestamp);
  const known = Number.isFinite(timestamp) && timestamp >= 0;
  return {
    partition: message.partition,
    offset: message.offset,
    timestamp: known ? timestamp : null,
    at: known ? new Date(timestamp).toISOString() : null,
    key: message.key?.toString() ?? null,
    reason: headers[DeadLetterHeaders.reason] ?? 'unknown',
    code: headers[DeadLetterHeaders.code] ?? null,
    orgId: typeof body?.tenant_context?.org_id === 'string' ? body.tenant_context.org_id : (headers[EventHeaders.tenantId] ?? null),
    entityId: typeof body?.entity?.id === 'string' ? body.entity.id : null,
    original: topic
      ? { topic, partition: Number(headers[DeadLetterHeaders.originalPartition]), offset: headers[DeadLetterHeaders.originalOffset] ?? '' }
      : null,
    message,
  };
}

async function watermarks(kafka: Kafka, topic: string) {
  const admin = kafka.admin();
  await admin.connect();
  try {
    return (await admin.fetchTopicOffsets(topic)).map(({ partition, low, high }) => ({ partition, low: BigInt(low), high: BigInt(high) }));
  } finally {
    await admin.disconnect();
  }
}

/**
 * The dead letters of `dlqTopic`, oldest first, and how many it holds. With `last`, only the
 * last `last` of each partition are read, counted back from its high watermark.
 */
export async function readDeadLetters(
  kafka: Kafka,
  dlqTopic: string,
  { last, onProgress }: { last?: number; onProgress?: Progress } = {},
): Promise<{ total: number; letters: DeadLetter[] }> {
  const partitions = await watermarks(kafka, dlqTopic);
  const ranges: OffsetRange[] = partitions.map(({ partition, low, high }) => {
    const from = last === undefined || high - BigInt(last) < low ? low : high - BigInt(last);
    return { partition, from: String(from), to: String(high) };
  });
  const letters = (await readFromOffsets(kafka, dlqTopic, ranges, { onProgress })).map(describe);
  letters.sort((a, b) => (a.timestamp ?? 0) - (b.timestamp ?? 0) || a.partition - b.partition || Number(BigInt(a.offset) - BigInt(b.offset)));
  return { total: Number(partitions.reduce((sum, { low, high }) => sum + high - low, 0n)), letters };
}

/** The dead letter at `partition`:`offset`, read alone; null when there is none there. */
export async function readDeadLetter(kafka: Kafka, dlqTopic: string, partition: number, offset: string): Promise<DeadLetter | null> {
  const bounds = (await watermarks(kafka, dlqTopic)).find((candidate) => candidate.partition === partition);
  if (!bounds || BigInt(offset) < bounds.low || BigInt(offset) >= bounds.high) return null;
  const [message] = await readFromOffsets(kafka, dlqTopic, [{ partition, from: offset, to: String(BigInt(offset) + 1n) }]);
  return message && message.offset === offset ? describe(message) : null;
}

export function matchesFilter(letter: DeadLetter, { reason, orgId, since, until }: DeadLetterFilter): boolean {
  if (reason !== undefined && letter.code !== reason && letter.reason !== reason) return false;
  if (orgId !== undefined && letter.orgId?.toLowerCase() !== orgId.toLowerCase()) return false;
  if (since !== undefined && (letter.timestamp === null || letter.timestamp < since)) return false;
  if (until !== undefined && (letter.timestamp === null || letter.timestamp >= until)) return false;
  return true;
}

/**
 * Why `letter` must not go back to `eventsTopic`, the topic of `entityType`, or null when it may.
 * A dead-letter topic is written by anyone who may produce to it, so the letter is checked as the
 * consumer would check a new message of that topic, and its header naming another topic is taken
 * as a sign it does not belong here.
 */
export function replayRefusal(letter: DeadLetter, eventsTopic: string, entityType: string): string | null {
  if (!letter.original) return `it does not name its original topic (${DeadLetterHeaders.originalTopic})`;
  if (letter.original.topic !== eventsTopic) return `it came from topic ${JSON.stringify(letter.original.topic)}, not from ${eventsTopic}`;
  const parsed = parseEntityEvent(letter.message.value, letter.message.headers[EventHeaders.tenantId], entityType);
  return parsed.ok ? null : `it is not a valid event (${parsed.code}: ${parsed.reason})`;
}

/**
 * Publishes dead letters again to `eventsTopic`, with their keys, values and original headers
 * (the dlq-* ones dropped), so the consumer processes them as if they were new. For after the
 * cause is fixed: an organisation reactivated, the source back, a bug deployed away. Callers
 * check each letter with `replayRefusal` first.
 */
export async function replayDeadLetters(kafka: Kafka, eventsTopic: string, letters: DeadLetter[]): Promise<void> {
  if (letters.length === 0) return;
  const producer = kafka.producer({ kafkaJS: { idempotent: true, acks: -1 } });
  await producer.connect();
  try {
    await producer.send({
      topic: eventsTopic,
      messages: letters.map(({ message }) => ({
        key: message.key,
        value: message.value,
        headers: Object.fromEntries(Object.entries(message.headers).filter(([name]) => !isDeadLetterHeader(name))),
      })),
    });
  } finally {
    await producer.disconnect();
  }
}
