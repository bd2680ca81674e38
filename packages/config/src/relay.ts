import { Type, type Static } from 'typebox';
import { kafka, kafkaSecurity, kafkaTopics, logging, operations, postgresUrl } from './fields.ts';
import { databasePasswordFile, withDatabasePassword } from './database-password.ts';
import { withKafkaSecurity, type KafkaSecurityConfig } from './kafka-security.ts';
import { loadConfig } from './load-config.ts';

export const relayConfigSchema = Type.Object({
  ...logging,
  ...operations(9102),
  ...kafka,
  ...kafkaSecurity,
  ...kafkaTopics,
  RELAY_DATABASE_URL: postgresUrl('postgres://relay_app@127.0.0.1:5432/source_db'),
  ...databasePasswordFile('relay_app'),
  RELAY_BATCH_SIZE: Type.Integer({ minimum: 1, maximum: 10_000, default: 2_000 }),
  RELAY_POLL_INTERVAL_MS: Type.Integer({ minimum: 10, maximum: 999, default: 200 }),
  RELAY_LEASE_MS: Type.Integer({ minimum: 1_000, maximum: 600_000, default: 30_000 }),
  RELAY_ID: Type.Optional(Type.String({ minLength: 1, maxLength: 100 })),
  /**
   * The most rows a second one relay publishes of one tenant while other tenants have changes
   * too; below it the pace follows what the consumers apply (docs/relay.md, "Pacing"). 0 turns pacing off.
   */
  RELAY_TENANT_RATE: Type.Integer({ minimum: 0, maximum: 1_000_000, default: 12_000 }),
  /**
   * Messages the consumer groups of RELAY_LAG_GROUPS may be behind on the events topics before
   * the relay stops publishing a backlog: past it, the backlog waits in the outbox, where every
   * tenant's next change is claimed first, not in Kafka behind it (docs/relay.md); 0 turns it off.
   */
  RELAY_MAX_LAG: Type.Integer({ minimum: 0, maximum: 100_000_000, default: 5_000 }),
  /** The consumer groups whose lag RELAY_MAX_LAG bounds, comma-separated (the consumer's KAFKA_GROUP_ID). */
  RELAY_LAG_GROUPS: Type.String({ default: 'tenant-sync-consumer' }),
  /** How long the source keeps a deleted entity's tombstone (7 days). */
  TOMBSTONE_RETENTION_MS: Type.Integer({ minimum: 0, maximum: 31_536_000_000, default: 604_800_000 }),
  /** How often the relay purges expired tombstones; 0 turns the purge off (another relay does it). */
  TOMBSTONE_PURGE_INTERVAL_MS: Type.Integer({ minimum: 0, maximum: 86_400_000, default: 3_600_000 }),
});

export type RelayConfig = Readonly<Static<typeof relayConfigSchema> & KafkaSecurityConfig>;

export const loadRelayConfig = (env: NodeJS.ProcessEnv = process.env): RelayConfig => withKafkaSecurity(withDatabasePassword(loadConfig(relayConfigSchema, env), 'RELAY_DATABASE_URL'), env);
