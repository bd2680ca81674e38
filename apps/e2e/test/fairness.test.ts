import postgres from 'postgres';
import { afterAll, beforeAll, describe, expect, it, inject } from 'vitest';
import { eventually, startSystem, testTenants, type RunningSystem } from '@tenant-sync/testing';

const infra = inject('infra');
const { a: quiet, b: importer } = testTenants;
const IMPORT = 30_000;

/**
 * Tenants kept apart in time, on the three real apps: while one tenant's bulk import drains,
 * another tenant's single change reaches the copy without waiting behind it. The bound is
 * generous for a loaded CI machine; `nx run consumer:bench-fairness` measures the real figures.
 */
describe('a bulk import of one tenant does not stall another tenant', () => {
  const source = postgres(infra.sourceAdminUrl, { max: 2, onnotice: () => {} });
  const copy = postgres(infra.consumerAdminUrl, { max: 2, onnotice: () => {} });
  let system: RunningSystem;

  beforeAll(async () => {
    system = await startSystem(infra);
  });
  afterAll(async () => {
    await system?.stop();
    await source`DELETE FROM users`;
    await source`DELETE FROM outbox`;
    await source`DELETE FROM tombstones`;
    await copy`DELETE FROM synced_users`;
    await Promise.all([source.end(), copy.end()]);
  });

  /** Users of this test's import in the copy, whatever other files left in the tables. */
  const imported = async () => (await copy`SELECT count(*)::int AS n FROM synced_users WHERE email LIKE 'import%@fair.test'`)[0]!.n as number;

  it("applies the quiet tenant's change while the import is still draining, in seconds", async () => {
    // One statement, one transaction: the trigger writes the import's outbox rows at once.
    await source`
      INSERT INTO users (org_id, name, email)
      SELECT ${importer.id}::uuid, 'Imported ' || n, 'import' || n || '@fair.test' FROM generate_series(1, ${IMPORT}::int) n`;
    const [change] = await source`INSERT INTO users (org_id, name, email) VALUES (${quiet.id}, 'Quiet', 'quiet@fair.test') RETURNING id`;
    const written = Date.now();
    await eventually(async () => expect(await copy`SELECT 1 FROM synced_users WHERE id = ${change!.id}`).toHaveLength(1), 30_000, 20);
    const waitedMs = Date.now() - written;
    const importedThen = await imported();
    console.log(JSON.stringify({ quiet_change_ms: waitedMs, import_synced_when_it_arrived: importedThen, import_rows: IMPORT }));
    expect(waitedMs).toBeLessThan(5_000);
    // It did not wait behind the whole import.
    expect(importedThen).toBeLessThan(IMPORT);
    await eventually(async () => expect(await imported()).toBe(IMPORT), 120_000, 250);
  }, 180_000);
});
