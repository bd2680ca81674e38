import { Type, type Static } from 'typebox';
import { kafka, logging, operations, postgresUrl } from './fields.ts';
import { loadConfig } from './load-config.ts';

export const relayConfigSchema = Type.Object({
  ...logging,
  ...operations(9102),
  ...kafka,
  RELAY_DATABASE_URL: postgresUrl('postgres://relay_app:relay_app@127.0.0.1:5432/source_db'),
  RELAY_BATCH_SIZE: Type.Integer({ minimum: 1, maximum: 10_000, default: 2_000 }),
  RELAY_POLL_INTERVAL_MS: Type.Integer({ minimum: 10, maximum: 999, default: 200 }),
  RELAY_LEASE_MS: Type.Integer({ minimum: 1_000, maximum: 600_000, default: 30_000 }),
  RELAY_ID: Type.Optional(Type.String({ minLength: 1, maxLength: 100 })),
});

export type RelayConfig = Readonly<Static<typeof relayConfigSchema>>;

export const loadRelayConfig = (env: NodeJS.ProcessEnv = process.env): RelayConfig => loadConfig(relayConfigSchema, env);
