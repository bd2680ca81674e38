import { Type, type Static } from 'typebox';
import { httpTimeouts, jwt, kafka, kafkaSecurity, logging, operations, port, postgresUrl, tls } from './fields.ts';
import { databasePasswordFile, withDatabasePassword } from './database-password.ts';
import { withKafkaSecurity, type KafkaSecurityConfig } from './kafka-security.ts';
import { loadConfig } from './load-config.ts';

const spiffeIds = '^spiffe://[^,\\s]+(\\s*,\\s*spiffe://[^,\\s]+)*$';
const entityTypes = '^[A-Z][A-Z0-9_]{0,47}(\\s*,\\s*[A-Z][A-Z0-9_]{0,47})*$';
const instances = '^[a-z][a-z0-9-]{0,39}=https?://[^,\\s]+(\\s*,\\s*[a-z][a-z0-9-]{0,39}=https?://[^,\\s]+)*$';

/**
 * The web console (:8003): the tenant view reads through the public APIs with the tenant's own
 * token; the operator view, for client certificates of CONSOLE_OPERATORS only, reads as the
 * operator's database login and Kafka.
 */
export const consoleConfigSchema = Type.Object({
  ...logging,
  ...operations(9104),
  ...tls('console'),
  ...jwt,
  ...httpTimeouts,
  ...kafka,
  ...kafkaSecurity,
  /** Loopback by default: a console reachable from a network is opened on purpose. */
  PUBLIC_HOST: Type.String({ default: '127.0.0.1' }),
  PUBLIC_PORT: port(8003),
  SOURCE_PUBLIC_URL: Type.String({ pattern: '^https://', default: 'https://localhost:8001' }),
  CONSUMER_PUBLIC_URL: Type.String({ pattern: '^https://', default: 'https://localhost:8002' }),
  OPERATOR_DATABASE_URL: postgresUrl('postgres://tenant_operator@127.0.0.1:5432/source_db'),
  ...databasePasswordFile('tenant_operator'),
  /** The consumer group whose lag the operator view shows. */
  KAFKA_GROUP_ID: Type.String({ minLength: 1, default: 'tenant-sync-consumer' }),
  /** SPIFFE IDs (URI SAN of a client certificate from the project CA, matched exactly) that open the operator view. */
  CONSOLE_OPERATORS: Type.String({ pattern: spiffeIds, default: 'spiffe://tenant-sync.local/operator' }),
  /** Entity types shown; `USER` is read at `/users`, `/cache/users` and `user-events`. */
  CONSOLE_ENTITY_TYPES: Type.String({ pattern: entityTypes, default: 'USER,TEAM' }),
  /** `name=url` of each instance's operations port, whose /health/ready the operator view shows. */
  CONSOLE_INSTANCES: Type.String({ pattern: instances, default: 'source=http://127.0.0.1:9101,relay=http://127.0.0.1:9102,consumer=http://127.0.0.1:9103' }),
  /** How often an open page refreshes its numbers; 0 turns it off. */
  CONSOLE_REFRESH_MS: Type.Integer({ minimum: 0, maximum: 3_600_000, default: 5_000 }),
  /** Entities of one type read from each API to count and compare; beyond it a count shows as "at least". */
  CONSOLE_ENTITY_SCAN_LIMIT: Type.Integer({ minimum: 1, maximum: 100_000, default: 5_000 }),
  /** The newest dead letters of each dead-letter partition that a page reads. */
  CONSOLE_DEAD_LETTER_SCAN_LIMIT: Type.Integer({ minimum: 1, maximum: 100_000, default: 1_000 }),
});

export type ConsoleConfig = Readonly<Static<typeof consoleConfigSchema> & KafkaSecurityConfig>;

export const loadConsoleConfig = (env: NodeJS.ProcessEnv = process.env): ConsoleConfig =>
  withKafkaSecurity(withDatabasePassword(loadConfig(consoleConfigSchema, env), 'OPERATOR_DATABASE_URL'), env);
