export {
  createKafka,
  type Admin,
  type Consumer,
  type EachBatchPayload,
  type IHeaders,
  type Kafka,
  type KafkaMessage,
  type KafkaOptions,
  type Producer,
  PartitionAssigners,
} from './create-kafka.ts';
export { ensureTopics, type TopicSpec } from './topics.ts';
export { flattenHeaders, readTopicToEnd, type StoredMessage } from './read-to-end.ts';
export { kafkaReadiness, type KafkaReadiness } from './readiness.ts';
export { readFromOffsets, type OffsetRange } from './read-from-offsets.ts';
