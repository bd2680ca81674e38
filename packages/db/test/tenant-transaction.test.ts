import { sql } from 'kysely';
import postgres from 'postgres';
import { afterAll, beforeAll, describe, expect, it, inject } from 'vitest';
import { testTenants } from '@tenant-sync/testing';
import { createDatabase, InvalidTenantError, pipelineWithTenant, withTenant, type SourceDatabase } from '../src/index.ts';
import { parseOrgId, type OrgId } from '@tenant-sync/contracts';

const infra = inject('infra');
const a = parseOrgId(testTenants.a.id)!;
const b = parseOrgId(testTenants.b.id)!;

describe('withTenant under row level security', () => {
  // One connection: every transaction reuses it, so a tenant left behind would show.
  const db = createDatabase<SourceDatabase>({ url: infra.sourceAppUrl, poolSize: 1, applicationName: 'db-test' });
  const admin = postgres(infra.sourceAdminUrl, { max: 1, onnotice: () => {} });

  beforeAll(async () => {
    await admin`DELETE FROM users`;
    await admin`INSERT INTO users (org_id, name, email) VALUES (${a}, 'Ann', 'ann@a.test'), (${b}, 'Bob', 'bob@b.test')`;
  });
  afterAll(async () => {
    await db.destroy();
    await admin.end();
  });

  const emails = (rows: { email: string }[]) => rows.map((row) => row.email);

  it('shows each tenant only its own rows, in turn, on one pooled connection', async () => {
    expect(emails(await withTenant(db, a, (trx) => trx.selectFrom('users').select('email').execute()))).toEqual(['ann@a.test']);
    expect(emails(await withTenant(db, b, (trx) => trx.selectFrom('users').select('email').execute()))).toEqual(['bob@b.test']);
    // No transaction, no tenant: after the two above, the same connection sees nothing.
    expect(await db.selectFrom('users').select('email').execute()).toEqual([]);
    expect(emails(await withTenant(db, a, (trx) => trx.selectFrom('users').select('email').execute()))).toEqual(['ann@a.test']);
  });

  it('keeps tenants apart when transactions and bare queries race for one pooled connection', async () => {
    // postgres@3.4.9 can send sql.begin()'s BEGIN without reserving the connection when BEGIN
    // fills the pipeline (porsager/postgres#1189, no fixed release yet). Kysely's dialect does not
    // use sql.begin(): it reserves a connection first and sends BEGIN on it. This interleaves
    // many tenant transactions with queries outside any transaction on a pool of one, so a
    // transaction or a tenant leaking onto the shared connection would show in some result.
    const rounds = Array.from({ length: 60 }, (_, round) => [
      withTenant(db, a, (trx) => trx.selectFrom('users').select('email').execute()).then((rows) => ['a', emails(rows)]),
      db.selectFrom('users').select('email').execute().then((rows) => ['none', emails(rows)]),
      withTenant(db, b, (trx) => trx.selectFrom('users').select('email').execute()).then((rows) => ['b', emails(rows)]),
      sql<{ tenant: string | null }>`select current_setting('app.current_tenant', true) as tenant`
        .execute(db)
        .then(({ rows }) => ['guc', [rows[0]?.tenant ?? '']]),
      round % 10 === 0 ? withTenant(db, a, async () => Promise.reject(new Error('rolled back'))).catch(() => ['rollback', []]) : ['skip', []],
      pipelineWithTenant(db, b, [db.selectFrom('users').select('email').compile()]).then(([rows]) => ['b', emails(rows as { email: string }[])]),
    ]).flat();
    const results = await Promise.all(rounds);
    const expected: Record<string, string[]> = { a: ['ann@a.test'], b: ['bob@b.test'], none: [], guc: [''], rollback: [], skip: [] };
    for (const [kind, seen] of results as Array<[string, string[]]>) expect(seen, kind).toEqual(expected[kind]);
    const [idle] = await admin`SELECT count(*)::int AS count FROM pg_stat_activity WHERE application_name = 'db-test' AND state LIKE 'idle in transaction%'`;
    expect(idle?.count).toBe(0);
  });

  it('runs pipelined statements in one tenant transaction and answers each with its rows', async () => {
    const [mine, count] = await pipelineWithTenant(db, a, [
      db.selectFrom('users').select('email').compile(),
      db.selectFrom('users').select((eb) => eb.fn.countAll<number>().as('n')).compile(),
    ]);
    expect(emails(mine as { email: string }[])).toEqual(['ann@a.test']);
    expect(Number(count?.[0]?.n)).toBe(1);
    expect(await db.selectFrom('users').select('email').execute()).toEqual([]);
  });

  it('keeps nothing of a pipelined transaction when one of its statements fails', async () => {
    await expect(
      pipelineWithTenant(db, a, [
        db.insertInto('users').values({ org_id: a, name: 'Ada', email: 'ada@a.test' }).compile(),
        db.insertInto('users').values({ org_id: b, name: 'Eve', email: 'eve@b.test' }).compile(),
        db.insertInto('users').values({ org_id: a, name: 'Al', email: 'al@a.test' }).compile(),
      ]),
    ).rejects.toThrow(/row-level security/);
    const [row] = await admin`SELECT count(*)::int AS count FROM users WHERE email IN ('ada@a.test', 'eve@b.test', 'al@a.test')`;
    expect(row?.count).toBe(0);
    const [idle] = await admin`SELECT count(*)::int AS count FROM pg_stat_activity WHERE application_name = 'db-test' AND state LIKE 'idle in transaction%'`;
    expect(idle?.count).toBe(0);
    // The connection is whole: the next transaction on it works.
    expect(emails(await withTenant(db, a, (trx) => trx.selectFrom('users').select('email').execute()))).toEqual(['ann@a.test']);
  });

  it('fails closed: with no tenant set nothing can be read or written', async () => {
    expect(await db.selectFrom('users').selectAll().execute()).toEqual([]);
    await expect(db.insertInto('users').values({ org_id: a, name: 'Eve', email: 'eve@a.test' }).execute()).rejects.toThrow(
      /row-level security/,
    );
    const updated = await db.updateTable('users').set({ name: 'Mallory' }).executeTakeFirst();
    expect(updated.numUpdatedRows).toBe(0n);
    const [row] = await admin`SELECT count(*)::int AS count FROM users WHERE name = 'Mallory' OR email = 'eve@a.test'`;
    expect(row?.count).toBe(0);
  });

  it('refuses to write a row into another tenant', async () => {
    await expect(
      withTenant(db, a, (trx) => trx.insertInto('users').values({ org_id: b, name: 'Eve', email: 'eve@b.test' }).execute()),
    ).rejects.toThrow(/row-level security/);
  });

  it('never sends a tenant id that is not a UUID to the database', async () => {
    await expect(withTenant(db, "' OR 1=1 --" as OrgId, async () => 'ran')).rejects.toBeInstanceOf(InvalidTenantError);
    await expect(pipelineWithTenant(db, "' OR 1=1 --" as OrgId, [])).rejects.toBeInstanceOf(InvalidTenantError);
  });

  it('does not let the app role escape: no SET ROLE, no disabling RLS, no malformed GUC trick', async () => {
    await expect(sql`SET ROLE tenant_sync_owner`.execute(db)).rejects.toThrow(/permission denied/);
    await expect(sql`ALTER TABLE users DISABLE ROW LEVEL SECURITY`.execute(db)).rejects.toThrow(/must be owner/);
    await expect(
      db.transaction().execute(async (trx) => {
        await sql`SET LOCAL row_security = off`.execute(trx);
        return trx.selectFrom('users').selectAll().execute();
      }),
    ).rejects.toThrow(/would be affected by row-level security/);
    await expect(
      db.transaction().execute(async (trx) => {
        await sql`select set_config('app.current_tenant', 'not-a-uuid', true)`.execute(trx);
        return trx.selectFrom('users').selectAll().execute();
      }),
    ).rejects.toThrow(/invalid input syntax for type uuid/);
  });
});
