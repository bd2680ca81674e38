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
  CompressionTypes,
  PartitionAssigners,
} from './create-kafka.ts';
export { createBatchProducer, type BatchProducer, type OutgoingMessage } from './batch-producer.ts';
export { ensureEventTopics, ensureTopics, type EventTopicSettings, type TopicSpec } from './topics.ts';
export { kafkaReadiness, type KafkaReadiness } from './readiness.ts';
export { flattenHeaders, readFromOffsets, type OffsetRange, type StoredMessage } from './read-from-offsets.ts';
export { brokersAnswer, type BrokersAnswerOptions } from './brokers-answer.ts';
export { committedOffsets, partitionKey, watermarks, type PartitionWatermarks } from './group-offsets.ts';
export { kafkaSecurityOf, securityProperties, type KafkaSecuritySettings } from './security.ts';
export { aclCommandArgs, readerGroupPrefix, tenantSyncAcls, type AclOperation, type AclPlanOptions, type AclPrincipals, type AclRule } from './acls.ts';
