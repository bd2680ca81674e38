import path from 'node:path';
import { Type } from 'typebox';

/** The workspace root: development certificates and keys live under it by default. */
export const workspaceRoot = path.resolve(import.meta.dirname, '../../..');

const certsDir = path.join(workspaceRoot, 'certs');

export const port = (defaultPort: number) => Type.Integer({ minimum: 0, maximum: 65535, default: defaultPort });

export const filePath = (defaultName: string) => Type.String({ minLength: 1, default: path.join(certsDir, defaultName) });

export const postgresUrl = (defaultUrl: string) => Type.String({ pattern: '^postgres(ql)?://', default: defaultUrl });

export const commaList = (defaultValue: string) => Type.String({ minLength: 1, default: defaultValue });

export const logging = {
  LOG_LEVEL: Type.Union(
    [
      Type.Literal('fatal'),
      Type.Literal('error'),
      Type.Literal('warn'),
      Type.Literal('info'),
      Type.Literal('debug'),
      Type.Literal('trace'),
      Type.Literal('silent'),
    ],
    { default: 'info' },
  ),
  /** `json` lines for machines (the default); `pretty` for a person reading a terminal. */
  LOG_FORMAT: Type.Union([Type.Literal('json'), Type.Literal('pretty')], { default: 'json' }),
};

export const operations = (defaultPort: number) => ({
  OPS_HOST: Type.String({ default: '127.0.0.1' }),
  OPS_PORT: port(defaultPort),
});

export const kafka = {
  KAFKA_BROKERS: commaList('127.0.0.1:9092'),
  /**
   * The events topic of each entity type: `{type}` becomes the type in lower case (`user-events`,
   * `team-events`); its dead letters go to `<topic>.dlq`.
   */
  KAFKA_TOPIC_TEMPLATE: Type.String({ pattern: '^[a-zA-Z0-9._-]{0,180}\\{type\\}[a-zA-Z0-9._-]{0,20}$', default: '{type}-events' }),
};

/** How the apps that own the events topic create it (relay and consumer). */
export const kafkaTopics = {
  /** Off for a managed Kafka whose operators create the topics. */
  KAFKA_CREATE_TOPICS: Type.Boolean({ default: true }),
  KAFKA_TOPIC_PARTITIONS: Type.Integer({ minimum: 1, maximum: 10_000, default: 6 }),
  /** Copies of each partition; -1 takes the broker's default.replication.factor. */
  KAFKA_REPLICATION_FACTOR: Type.Integer({ minimum: -1, maximum: 32, default: -1 }),
  /** Replicas that must acknowledge a write (with acks=all); the broker's default when unset. */
  KAFKA_MIN_INSYNC_REPLICAS: Type.Optional(Type.Integer({ minimum: 1, maximum: 32 })),
};

/**
 * How a Kafka client proves itself and checks the brokers (docs/deploy.md, "Securing Kafka"):
 * PLAINTEXT for a development broker, SSL (optionally with a client certificate) or SASL_SSL.
 * Resolved by `withKafkaSecurity`, which also reads KAFKA_SASL_PASSWORD_FILE and the
 * KAFKA_PROP_<name> pass-through.
 */
export const kafkaSecurity = {
  KAFKA_SECURITY_PROTOCOL: Type.Union([Type.Literal('PLAINTEXT'), Type.Literal('SSL'), Type.Literal('SASL_SSL')], { default: 'PLAINTEXT' }),
  /** CA that signs the brokers' certificates; the system's trust store when unset. */
  KAFKA_SSL_CA_FILE: Type.Optional(Type.String({ minLength: 1 })),
  /** A client certificate and its key (PEM) for brokers that ask for one; both or neither. */
  KAFKA_SSL_CERT_FILE: Type.Optional(Type.String({ minLength: 1 })),
  KAFKA_SSL_KEY_FILE: Type.Optional(Type.String({ minLength: 1 })),
  KAFKA_SASL_MECHANISM: Type.Union([Type.Literal('SCRAM-SHA-512'), Type.Literal('SCRAM-SHA-256'), Type.Literal('PLAIN')], { default: 'SCRAM-SHA-512' }),
  KAFKA_SASL_USERNAME: Type.Optional(Type.String({ minLength: 1 })),
  /** The SASL password itself; prefer KAFKA_SASL_PASSWORD_FILE (a mounted secret). One of the two. */
  KAFKA_SASL_PASSWORD: Type.Optional(Type.String({ minLength: 1 })),
  KAFKA_SASL_PASSWORD_FILE: Type.Optional(Type.String({ minLength: 1 })),
};

export const jwt = {
  JWT_PUBLIC_KEY_FILE: filePath('jwt-public.pem'),
  JWT_JWKS_URL: Type.Optional(Type.String({ pattern: '^https://' })),
  JWT_ISSUER: Type.String({ minLength: 1, default: 'tenant-sync-dev' }),
  JWT_AUDIENCE: Type.String({ minLength: 1, default: 'tenant-sync' }),
  JWT_ALGORITHMS: commaList('ES256'),
  JWT_CLOCK_TOLERANCE_S: Type.Integer({ minimum: 0, maximum: 300, default: 5 }),
  JWT_MAX_TOKEN_AGE_S: Type.Integer({ minimum: 60, maximum: 86_400, default: 3_600 }),
  AUTH_CACHE_TTL_MS: Type.Integer({ minimum: 0, maximum: 300_000, default: 5_000 }),
};

/** Timeouts of every HTTPS listener: a slow or idle client cannot hold a socket for ever. */
export const httpTimeouts = {
  HTTP_REQUEST_TIMEOUT_MS: Type.Integer({ minimum: 1_000, maximum: 600_000, default: 30_000 }),
  HTTP_KEEP_ALIVE_TIMEOUT_MS: Type.Integer({ minimum: 1_000, maximum: 600_000, default: 5_000 }),
};

export const tls = (certName: string) => ({
  TLS_CA_FILE: filePath('ca.crt'),
  TLS_CERT_FILE: filePath(`${certName}.crt`),
  TLS_KEY_FILE: filePath(`${certName}.key`),
});

/** Splits a comma-separated setting into its trimmed, non-empty parts. */
export function splitList(value: string): string[] {
  return value.split(',').map((part) => part.trim()).filter(Boolean);
}
