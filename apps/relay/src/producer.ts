import { KafkaJS } from '@confluentinc/kafka-javascript';
import type { Kafka, Producer } from '@tenant-sync/kafka';

/**
 * An idempotent producer (acks from all in-sync replicas, per-partition order kept across
 * retries), batching for a few milliseconds and compressing with lz4.
 */
export function createProducer(kafka: Kafka): Producer {
  return kafka.producer({
    'linger.ms': 5,
    'batch.num.messages': 10_000,
    'message.timeout.ms': 30_000,
    kafkaJS: { idempotent: true, acks: -1, compression: KafkaJS.CompressionTypes.LZ4 },
  });
}
