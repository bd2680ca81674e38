import { randomBytes } from 'node:crypto';
import postgres from 'postgres';
import { afterAll, describe, expect, it, inject } from 'vitest';
import { developmentPasswords } from '@tenant-sync/config';
import { APP_ROLES, dropDatabases, MigrationChangedError, provisionDatabases, withDatabase } from '@tenant-sync/migrations';

const infra = inject('infra');

/** The migration runner on fresh databases of its own: as two instances starting at once would run it. */
describe('provisionDatabases', () => {
  const run = randomBytes(3).toString('hex');
  const databases = { sourceDatabase: `migrate_${run}_source`, consumerDatabase: `migrate_${run}_consumer` };
  const options = { adminUrl: infra.adminUrl, ...databases, passwords: developmentPasswords(Object.values(APP_ROLES)) };
  afterAll(() => dropDatabases(infra.adminUrl, Object.values(databases)));

  const applied = async () => {
    const sql = postgres(withDatabase(infra.adminUrl, databases.sourceDatabase), { max: 1, onnotice: () => {} });
    try {
      return await sql<{ name: string; checksum: string }[]>`SELECT name, checksum FROM schema_migrations ORDER BY name`;
    } finally {
      await sql.end();
    }
  };

  it('lets two instances started at once take turns: every file applied once, with its checksum', async () => {
    await Promise.all([provisionDatabases(options), provisionDatabases(options)]);
    const rows = await applied();
    expect(rows.map((row) => row.name)).toEqual([...new Set(rows.map((row) => row.name))]);
    expect(rows.length).toBeGreaterThanOrEqual(11);
    for (const row of rows) expect(row.checksum).toMatch(/^[0-9a-f]{64}$/);
    // It creates the schema only: no tenant is seeded.
    const sql = postgres(withDatabase(infra.adminUrl, databases.sourceDatabase), { max: 1, onnotice: () => {} });
    try {
      expect(await sql`SELECT id FROM organizations`).toEqual([]);
    } finally {
      await sql.end();
    }
  });

  it('refuses to go on when a file that was applied has changed since', async () => {
    const sql = postgres(withDatabase(infra.adminUrl, databases.sourceDatabase), { max: 1, onnotice: () => {} });
    try {
      await sql`UPDATE schema_migrations SET checksum = ${'0'.repeat(64)} WHERE name = '002-users.sql'`;
    } finally {
      await sql.end();
    }
    await expect(provisionDatabases(options)).rejects.toThrow(MigrationChangedError);
    await expect(provisionDatabases(options)).rejects.toThrow(/source\/002-users\.sql was changed after it was applied/);
  });
});
