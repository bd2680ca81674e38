// Creates the roles and databases, applies migrations and seeds the two development tenants.
// Uses DATABASE_ADMIN_URL (a superuser) when set; otherwise the local server on 127.0.0.1:5432,
// or, when none answers, an embedded PostgreSQL under .local/postgres.
import path from 'node:path';
import postgres from 'postgres';
import { DEFAULT_ORG_ID, DEMO_ORG_ID } from '@tenant-sync/contracts';
import { developmentPasswords } from '@tenant-sync/config';
import { APP_ROLES, provisionDatabases, withDatabase } from '@tenant-sync/migrations';
import { canConnect, localDir, startEmbeddedPostgres, type RunningPostgres } from '@tenant-sync/local-infra';

export const seededTenants = [
  { id: DEFAULT_ORG_ID, name: 'Default organisation', admin: 'default-admin' },
  { id: DEMO_ORG_ID, name: 'Demo organisation', admin: 'demo-admin' },
];

const defaultAdminUrl = 'postgres://postgres@127.0.0.1:5432/postgres';

async function main() {
  let adminUrl = process.env.DATABASE_ADMIN_URL ?? defaultAdminUrl;
  let embedded: RunningPostgres | undefined;
  if (!(await canConnect(adminUrl))) {
    if (process.env.DATABASE_ADMIN_URL) throw new Error(`cannot connect to DATABASE_ADMIN_URL`);
    console.log('no PostgreSQL on 127.0.0.1:5432: starting the embedded server');
    embedded = await startEmbeddedPostgres({ dataDir: path.join(localDir, 'postgres'), port: 5432 });
    adminUrl = embedded.adminUrl;
  }
  try {
    // Random passwords, kept in git-ignored files the apps read by default (DATABASE_PASSWORD_FILE).
    const passwords = developmentPasswords(Object.values(APP_ROLES));
    await provisionDatabases({ adminUrl, sourceDatabase: 'source_db', consumerDatabase: 'consumer_db', passwords, log: console.log });
    const sql = postgres(withDatabase(adminUrl, 'source_db'), { max: 1, onnotice: () => {} });
    try {
      for (const tenant of seededTenants) {
        await sql`INSERT INTO organizations (id, name) VALUES (${tenant.id}, ${tenant.name}) ON CONFLICT (id) DO NOTHING`;
        await sql`INSERT INTO memberships (org_id, subject, role) VALUES (${tenant.id}, ${tenant.admin}, 'tenant_admin') ON CONFLICT DO NOTHING`;
      }
    } finally {
      await sql.end();
    }
    console.log('databases source_db and consumer_db are ready; tenants seeded');
  } finally {
    await embedded?.stop();
  }
}

await main();
