// Seeds the two development tenants, each with an admin member: `npm run seed` (setup runs it).
// Never part of a production migration.
import { DEFAULT_ORG_ID, DEMO_ORG_ID } from '@tenant-sync/contracts';
import { connectPostgres } from '@tenant-sync/db';
import { withDatabase } from '@tenant-sync/migrations';
import { withAdminDatabase } from './admin-database.ts';

const seededTenants = [
  { id: DEFAULT_ORG_ID, name: 'Default organisation', admin: 'default-admin' },
  { id: DEMO_ORG_ID, name: 'Demo organisation', admin: 'demo-admin' },
];

await withAdminDatabase(async (adminUrl) => {
  const sql = connectPostgres(withDatabase(adminUrl, 'source_db'), { max: 1, onnotice: () => {} });
  try {
    for (const tenant of seededTenants) {
      await sql`INSERT INTO organizations (id, name) VALUES (${tenant.id}, ${tenant.name}) ON CONFLICT (id) DO NOTHING`;
      await sql`INSERT INTO memberships (org_id, subject, role) VALUES (${tenant.id}, ${tenant.admin}, 'tenant_admin') ON CONFLICT DO NOTHING`;
    }
  } finally {
    await sql.end();
  }
  console.log('development tenants seeded');
});
