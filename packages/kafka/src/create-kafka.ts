import { KafkaJS } from '@confluentinc/kafka-javascript';
import type { Logger } from 'pino';
import { securityProperties, type KafkaSecuritySettings } from './security.ts';

export type Kafka = KafkaJS.Kafka;
export type Producer = KafkaJS.Producer;
export type Consumer = KafkaJS.Consumer;
export type Admin = KafkaJS.Admin;
export type { KafkaMessage, EachBatchPayload, IHeaders } from '@confluentinc/kafka-javascript/types/kafkajs.js';

/** Partition assignment strategies of a consumer group. */
export const PartitionAssigners = KafkaJS.PartitionAssigners;

/** Compression codecs of a producer. */
export const CompressionTypes = KafkaJS.CompressionTypes;

export interface KafkaOptions {
  /** Comma-separated host:port list. */
  brokers: string;
  clientId: string;
  logger: Logger;
  /** TLS, SASL and pass-through properties (an app's config); plaintext without. */
  security?: KafkaSecuritySettings | undefined;
}

/**
 * The librdkafka properties every client of an app shares: how it reconnects, and its security
 * (with the KAFKA_PROP_<name> pass-through).
 */
export function connectionProperties(security: KafkaSecuritySettings | undefined): Record<string, string | number | boolean> {
  return {
    // A broker that comes back is found within a second, not after librdkafka's default 10 s
    // ceiling: clients resume promptly after a broker restart (docs/consumer.md).
    'reconnect.backoff.ms': 100,
    'reconnect.backoff.max.ms': 1_000,
    // TCP_NODELAY, as the Java clients always set it: with Nagle's algorithm a small produce or
    // fetch request waits for the ack of the one before it.
    'socket.nagle.disable': true,
    ...securityProperties(security),
  };
}

/**
 * A Kafka client (librdkafka underneath) that logs through pino. The KAFKA_PROP_<name>
 * pass-through may change the tuning of `connectionProperties`; what a producer or consumer
 * sets for itself wins.
 */
export function createKafka({ brokers, clientId, logger, security }: KafkaOptions): Kafka {
  return new KafkaJS.Kafka({
    ...connectionProperties(security),
    kafkaJS: {
      brokers: brokers.split(',').map((broker) => broker.trim()),
      clientId,
      logger: pinoKafkaLogger(logger.child({ component: 'kafka' })),
      logLevel: KafkaJS.logLevel.WARN,
    },
  });
}

function pinoKafkaLogger(logger: Logger): KafkaJS.Logger {
  const adapter: KafkaJS.Logger = {
    info: (message, extra) => logger.info(extra ?? {}, message),
    warn: (message, extra) => logger.warn(extra ?? {}, message),
    error: (message, extra) => logger.error(extra ?? {}, message),
    debug: (message, extra) => logger.debug(extra ?? {}, message),
    namespace: (namespace) => pinoKafkaLogger(logger.child({ namespace })),
    setLogLevel: () => {},
  };
  return adapter;
}
