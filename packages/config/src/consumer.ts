import { Type, type Static } from 'typebox';
import { commaList, filePath, httpTimeouts, jwt, kafka, kafkaSecurity, kafkaTopics, logging, operations, port, postgresUrl, tls } from './fields.ts';
import { databasePasswordFile, withDatabasePassword } from './database-password.ts';
import { withKafkaSecurity, type KafkaSecurityConfig } from './kafka-security.ts';
import { loadConfig } from './load-config.ts';

export const consumerConfigSchema = Type.Object({
  ...logging,
  ...operations(9103),
  ...tls('consumer'),
  ...jwt,
  ...httpTimeouts,
  ...kafka,
  ...kafkaSecurity,
  ...kafkaTopics,
  CONSUMER_DATABASE_URL: postgresUrl('postgres://consumer_app@127.0.0.1:5432/consumer_db'),
  ...databasePasswordFile('consumer_app'),
  DATABASE_POOL_SIZE: Type.Integer({ minimum: 1, maximum: 200, default: 10 }),
  KAFKA_GROUP_ID: Type.String({ minLength: 1, default: 'tenant-sync-consumer' }),
  /** How long a silent member stays in the group: the time to fail its partitions over. */
  KAFKA_SESSION_TIMEOUT_MS: Type.Integer({ minimum: 6_000, maximum: 300_000, default: 6_000 }),
  /** A stable id per instance (e.g. the pod name) for static membership; unset for dynamic. */
  KAFKA_GROUP_INSTANCE_ID: Type.Optional(Type.String({ minLength: 1, maxLength: 249 })),
  PUBLIC_HOST: Type.String({ default: '0.0.0.0' }),
  PUBLIC_PORT: port(8002),
  /** The consumer's client identity on the Reference API (clientAuth, its SPIFFE ID in a URI SAN); never served on :8002. */
  TLS_CLIENT_CERT_FILE: filePath('consumer-client.crt'),
  TLS_CLIENT_KEY_FILE: filePath('consumer-client.key'),
  SOURCE_INTERNAL_URL: Type.String({ pattern: '^https://', default: 'https://localhost:8441' }),
  CONSUMER_ID: Type.String({ minLength: 1, default: 'consumer' }),
  FETCH_TIMEOUT_MS: Type.Integer({ minimum: 100, maximum: 60_000, default: 5_000 }),
  /** Pause of a partition after the source refused the consumer's credentials. */
  SOURCE_AUTH_PAUSE_MS: Type.Integer({ minimum: 100, maximum: 3_600_000, default: 30_000 }),
  /**
   * Partitions of one consumer handled at once. As many as the topic has (6) by default: the
   * batches handled side by side share one Reference API call per tenant.
   */
  CONSUMER_CONCURRENCY: Type.Integer({ minimum: 1, maximum: 64, default: 6 }),
  /** Period of the reconciliation job; 0 turns it off. */
  RECONCILE_INTERVAL_MS: Type.Integer({ minimum: 0, maximum: 86_400_000, default: 300_000 }),
  /** Tenants reconciliation always covers, besides those seen in messages since start. */
  RECONCILE_TENANTS: commaList('00000000-0000-0000-0000-000000000000,11111111-1111-1111-1111-111111111111'),
});

export type ConsumerConfig = Readonly<Static<typeof consumerConfigSchema> & KafkaSecurityConfig>;

export const loadConsumerConfig = (env: NodeJS.ProcessEnv = process.env): ConsumerConfig =>
  withKafkaSecurity(withDatabasePassword(loadConfig(consumerConfigSchema, env), 'CONSUMER_DATABASE_URL'), env);
