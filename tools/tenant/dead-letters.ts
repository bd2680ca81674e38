import type { Kafka, StoredMessage } from '@tenant-sync/kafka';
import { readTopicToEnd } from '@tenant-sync/kafka';
import { OperatorError } from './operator-queries.ts';

/** What the consumer recorded when it gave up on a message (see apps/consumer). */
export interface DeadLetter {
  partition: number;
  offset: string;
  at: string;
  reason: string;
  orgId: string | null;
  entityId: string | null;
  original: { topic: string; partition: number; offset: string } | null;
  message: StoredMessage;
}

const dlqHeader = /^dlq-/;

function describe(message: StoredMessage): DeadLetter {
  let body: { entity?: { id?: unknown }; tenant_context?: { org_id?: unknown } } = {};
  try {
    body = JSON.parse(message.value?.toString() ?? '') as typeof body;
  } catch {
    // A poison message that is not JSON: shown by its headers only.
  }
  const { headers } = message;
  const topic = headers['dlq-original-topic'];
  return {
    partition: message.partition,
    offset: message.offset,
    at: new Date(Number(message.timestamp)).toISOString(),
    reason: headers['dlq-reason'] ?? 'unknown',
    orgId: typeof body.tenant_context?.org_id === 'string' ? body.tenant_context.org_id : (headers['x-tenant-id'] ?? null),
    entityId: typeof body.entity?.id === 'string' ? body.entity.id : null,
    original: topic ? { topic, partition: Number(headers['dlq-original-partition']), offset: headers['dlq-original-offset'] ?? '' } : null,
    message,
  };
}

export async function readDeadLetters(kafka: Kafka, dlqTopic: string, onProgress?: (read: number, total: number) => void): Promise<DeadLetter[]> {
  return (await readTopicToEnd(kafka, dlqTopic, { onProgress })).map(describe);
}

/**
 * Publishes a dead letter again to the topic it came from, with its key, value and original
 * headers (the dlq-* ones dropped), so the consumer processes it as if it were new. For after
 * the cause is fixed: an organisation reactivated, the source back, a bug deployed away.
 */
export async function replayDeadLetter(kafka: Kafka, letter: DeadLetter): Promise<string> {
  if (!letter.original) throw new OperatorError(`dead letter ${letter.partition}:${letter.offset} does not name its original topic`);
  const headers = Object.fromEntries(Object.entries(letter.message.headers).filter(([name]) => !dlqHeader.test(name)));
  const producer = kafka.producer({ kafkaJS: { idempotent: true, acks: -1 } });
  await producer.connect();
  try {
    await producer.send({ topic: letter.original.topic, messages: [{ key: letter.message.key, value: letter.message.value, headers }] });
  } finally {
    await producer.disconnect();
  }
  return letter.original.topic;
}
