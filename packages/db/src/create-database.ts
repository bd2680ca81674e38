import { Kysely, sql } from 'kysely';
import postgres from 'postgres';
import { connectPostgres } from './connect-postgres.ts';
import { TenantPipelineDialect } from './tenant-pipeline-dialect.ts';

export interface DatabaseOptions {
  url: string;
  /** Maximum connections in the pool. */
  poolSize?: number;
  /** A name shown in pg_stat_activity. */
  applicationName: string;
  /** Server settings for every connection of the pool, e.g. `{ plan_cache_mode: 'force_custom_plan' }`. */
  settings?: Record<string, string>;
}

/**
 * A Kysely instance over the `postgres` driver, with the TLS the URL's `sslmode` / `sslrootcert`
 * ask for (`connectPostgres`), and tenant transactions that begin in one round trip
 * (`TenantPipelineDialect`). Close it with `db.destroy()`.
 */
export function createDatabase<DB>({ url, poolSize = 10, applicationName, settings = {} }: DatabaseOptions): Kysely<DB> {
  const sql = connectPostgres(url, {
    max: poolSize,
    idle_timeout: 30,
    connect_timeout: 10,
    onnotice: () => {},
    connection: { ...settings, application_name: applicationName },
    // Read bigint columns (version, outbox id) as numbers: they stay far below 2^53.
    types: { bigint: postgres.BigInt },
  });
  return new Kysely<DB>({ dialect: new TenantPipelineDialect({ postgres: sql }) });
}

/** Resolves when the database answers a trivial query: the readiness check of every app. */
export async function pingDatabase<DB>(db: Kysely<DB>): Promise<void> {
  await sql`select 1`.execute(db);
}
