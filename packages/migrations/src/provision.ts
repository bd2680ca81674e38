import { createHash } from 'node:crypto';
import { readdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import postgres from 'postgres';

const migrationsDir = path.resolve(import.meta.dirname, '../sql');

/** The role that owns every table; nothing logs in as it. Migrations run under it. */
export const OWNER_ROLE = 'tenant_sync_owner';

/** Login roles of the apps, each with the least privilege its app needs. */
export const APP_ROLES = {
  source: 'source_app',
  relay: 'relay_app',
  consumer: 'consumer_app',
  /** The admin CLI's cross-tenant role: explicit, audited, never used by an app. */
  operator: 'tenant_operator',
} as const;

export type AppRole = (typeof APP_ROLES)[keyof typeof APP_ROLES];

export interface ProvisionOptions {
  /** A superuser (or a member of the owner role with CREATEDB and CREATEROLE). */
  adminUrl: string;
  sourceDatabase: string;
  consumerDatabase: string;
  /** Password of each app role, by role name (setup makes random ones for development); set anew on every run. */
  passwords: Record<AppRole, string>;
  log?: (line: string) => void;
}

/** An applied migration file no longer has the content it was applied with. */
export class MigrationChangedError extends Error {
  readonly code = 'MIGRATIONS_FILE_CHANGED';
  constructor(set: string, file: string) {
    super(`migration ${set}/${file} was changed after it was applied; add a new file instead`);
    this.name = 'MigrationChangedError';
  }
}

/** The advisory lock every provisioning holds: one at a time per cluster, whoever starts it. */
const PROVISIONING_LOCK = 7_311_201_123;

/**
 * Creates the roles and the two databases when missing, then applies the numbered SQL files
 * under sql/<database> that have not run yet, each in its own transaction, as the owner role.
 * Schema only: no data. Safe to run again, and from several instances at once: they take
 * turns on an advisory lock of the admin database. Refuses to go on when an applied file has
 * changed (its checksum is recorded when it is applied).
 */
export async function provisionDatabases(options: ProvisionOptions): Promise<void> {
  const log = options.log ?? (() => {});
  const admin = postgres(options.adminUrl, { max: 1, onnotice: () => {} });
  try {
    await admin`SELECT pg_advisory_lock(${PROVISIONING_LOCK})`;
    await ensureRole(admin, OWNER_ROLE, null);
    for (const role of Object.values(APP_ROLES)) await ensureRole(admin, role, options.passwords[role]);
    await admin`ALTER ROLE ${admin(APP_ROLES.relay)} SET idle_in_transaction_session_timeout = '10s'`;
    await ensureDatabase(admin, options.sourceDatabase, [APP_ROLES.source, APP_ROLES.relay, APP_ROLES.operator], log);
    await ensureDatabase(admin, options.consumerDatabase, [APP_ROLES.consumer], log);
    await migrate(withDatabase(options.adminUrl, options.sourceDatabase), 'source', log);
    await migrate(withDatabase(options.adminUrl, options.consumerDatabase), 'consumer', log);
  } finally {
    // Ending the session releases the lock too, should the unlock itself fail.
    await admin`SELECT pg_advisory_unlock(${PROVISIONING_LOCK})`.catch(() => {});
    await admin.end();
  }
}

/** Drops databases made for a test run. */
export async function dropDatabases(adminUrl: string, names: string[]): Promise<void> {
  const admin = postgres(adminUrl, { max: 1, onnotice: () => {} });
  try {
    for (const name of names) await admin`DROP DATABASE IF EXISTS ${admin(name)} WITH (FORCE)`;
  } finally {
    await admin.end();
  }
}

/** `url` with its database name replaced. */
export function withDatabase(url: string, database: string): string {
  const parsed = new URL(url);
  parsed.pathname = `/${database}`;
  return parsed.toString();
}

async function ensureRole(admin: postgres.Sql, role: string, password: string | null): Promise<void> {
  const [existing] = await admin`SELECT 1 FROM pg_roles WHERE rolname = ${role}`;
  // CREATE/ALTER ROLE take no bind parameters: the server quotes the statement with format().
  const [{ statement }] = (await admin`
    SELECT format(${existing ? 'ALTER' : 'CREATE'} || ' ROLE %I ' || ${password === null ? 'NOLOGIN' : 'LOGIN PASSWORD %L'} || ' NOSUPERUSER NOBYPASSRLS NOCREATEDB NOCREATEROLE', ${role}::text, ${password}::text) AS statement
  `) as unknown as [{ statement: string }];
  await admin.unsafe(statement);
}

async function ensureDatabase(admin: postgres.Sql, name: string, connectRoles: string[], log: (line: string) => void) {
  const [existing] = await admin`SELECT 1 FROM pg_database WHERE datname = ${name}`;
  if (!existing) {
    await admin`CREATE DATABASE ${admin(name)} OWNER ${admin(OWNER_ROLE)}`;
    log(`created database ${name}`);
  }
  await admin`REVOKE ALL ON DATABASE ${admin(name)} FROM PUBLIC`;
  for (const role of connectRoles) await admin`GRANT CONNECT ON DATABASE ${admin(name)} TO ${admin(role)}`;
}

async function migrate(url: string, set: 'source' | 'consumer', log: (line: string) => void): Promise<void> {
  const db = postgres(url, { max: 1, onnotice: () => {} });
  try {
    await db`SET ROLE ${db(OWNER_ROLE)}`;
    await db`CREATE TABLE IF NOT EXISTS schema_migrations (name text PRIMARY KEY, applied_at timestamptz NOT NULL DEFAULT now())`;
    await db`ALTER TABLE schema_migrations ADD COLUMN IF NOT EXISTS checksum text`;
    const applied = new Map((await db<{ name: string; checksum: string | null }[]>`SELECT name, checksum FROM schema_migrations`).map((row) => [row.name, row.checksum]));
    const files = (await readdir(path.join(migrationsDir, set))).filter((file) => file.endsWith('.sql')).sort();
    for (const file of files) {
      const text = await readFile(path.join(migrationsDir, set, file), 'utf8');
      const checksum = createHash('sha256').update(text).digest('hex');
      if (applied.has(file)) {
        const recorded = applied.get(file);
        // Applied before checksums were kept: what it is now is taken as what was applied.
        if (recorded === null) await db`UPDATE schema_migrations SET checksum = ${checksum} WHERE name = ${file}`;
        else if (recorded !== checksum) throw new MigrationChangedError(set, file);
        continue;
      }
      await db.begin(async (trx) => {
        await trx.unsafe(text);
        await trx`INSERT INTO schema_migrations (name, checksum) VALUES (${file}, ${checksum})`;
      });
      log(`applied ${set}/${file}`);
    }
  } finally {
    await db.end();
  }
}
