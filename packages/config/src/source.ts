import { Type, type Static } from 'typebox';
import { httpTimeouts, jwt, logging, operations, port, postgresUrl, tls } from './fields.ts';
import { databasePasswordFile, withDatabasePassword } from './database-password.ts';
import { loadConfig } from './load-config.ts';

export const sourceConfigSchema = Type.Object({
  ...logging,
  ...operations(9101),
  ...tls('source'),
  ...jwt,
  ...httpTimeouts,
  SOURCE_DATABASE_URL: postgresUrl('postgres://source_app@127.0.0.1:5432/source_db'),
  ...databasePasswordFile('source_app'),
  DATABASE_POOL_SIZE: Type.Integer({ minimum: 1, maximum: 200, default: 10 }),
  PUBLIC_HOST: Type.String({ default: '0.0.0.0' }),
  PUBLIC_PORT: port(8001),
  /** Loopback by default: the cross-tenant Reference API is opened to a network on purpose, not by accident. */
  INTERNAL_HOST: Type.String({ default: '127.0.0.1' }),
  INTERNAL_PORT: port(8441),
  /** SPIFFE IDs (URI SAN of the client certificate, matched exactly) allowed on the Reference API. */
  MTLS_ALLOWED_CLIENTS: Type.String({
    pattern: '^spiffe://[^,\\s]+(\\s*,\\s*spiffe://[^,\\s]+)*$',
    default: 'spiffe://tenant-sync.local/consumer',
  }),
  BODY_LIMIT_BYTES: Type.Integer({ minimum: 1024, maximum: 10_485_760, default: 65_536 }),
});

export type SourceConfig = Readonly<Static<typeof sourceConfigSchema>>;

export const loadSourceConfig = (env: NodeJS.ProcessEnv = process.env): SourceConfig => withDatabasePassword(loadConfig(sourceConfigSchema, env), 'SOURCE_DATABASE_URL');
