import { Kysely, sql } from 'kysely';
import { describe, expect, it } from 'vitest';
import { parseOrgId } from '@tenant-sync/contracts';
import { TenantPipelineDialect } from '../src/tenant-pipeline-dialect.ts';
import { pipelineWithTenant, withTenant } from '../src/tenant-transaction.ts';

/**
 * A postgres.js stand-in whose one reserved connection records each statement when it is
 * issued and answers it only when the test says so: what is sent before BEGIN's answer.
 */
function fakePostgres() {
  const issued: Array<{ sql: string; answer: (error?: Error) => void }> = [];
  const reserved = {
    unsafe: (text: string) =>
      new Promise((resolve, reject) => {
        issued.push({ sql: text, answer: (error) => (error ? reject(error) : resolve(Object.assign([], { command: 'SELECT', count: 0 }))) });
      }),
    release: () => {},
  };
  const postgres = Object.assign(() => {}, { reserve: async () => reserved, end: async () => {}, options: {} });
  return { postgres, issued, statements: () => issued.map((statement) => statement.sql.split('(')[0]) };
}

const orgId = parseOrgId('0b9d5e4a-9f3b-4c55-9f2e-2f1f1d7b1a01')!;
const settle = () => new Promise((resolve) => setTimeout(resolve, 10));

describe('tenant transactions in one round trip fewer', () => {
  it('sends the tenant setting with BEGIN, before BEGIN is answered, and answers it only after BEGIN', async () => {
    const fake = fakePostgres();
    const db = new Kysely({ dialect: new TenantPipelineDialect({ postgres: fake.postgres as never }) });
    let settingAnswered = false;
    const done = withTenant(db, orgId, async (trx) => {
      settingAnswered = true;
      await sql`select 1`.execute(trx);
    });
    await settle();
    expect(fake.statements()).toEqual(['begin', "select set_config"]);
    fake.issued[1]!.answer();
    await settle();
    expect(settingAnswered).toBe(false);
    fake.issued[0]!.answer();
    await settle();
    expect(settingAnswered).toBe(true);
    fake.issued[2]!.answer();
    await settle();
    fake.issued[3]!.answer();
    await done;
    expect(fake.statements()).toEqual(['begin', 'select set_config', 'select 1', 'commit']);
  });

  it('fails the tenant setting when BEGIN fails, and the work after it never runs', async () => {
    const fake = fakePostgres();
    const db = new Kysely({ dialect: new TenantPipelineDialect({ postgres: fake.postgres as never }) });
    const done = withTenant(db, orgId, (trx) => sql`insert into users default values`.execute(trx));
    await settle();
    fake.issued[1]!.answer();
    fake.issued[0]!.answer(new Error('connection lost'));
    await settle();
    fake.issued[2]?.answer();
    await expect(done).rejects.toThrow('connection lost');
    expect(fake.statements()).toEqual(['begin', 'select set_config', 'rollback']);
  });

  it('sends any other first statement only once BEGIN is answered', async () => {
    const fake = fakePostgres();
    const db = new Kysely({ dialect: new TenantPipelineDialect({ postgres: fake.postgres as never }) });
    const done = db.transaction().execute((trx) => sql`update outbox set attempts = 0`.execute(trx));
    await settle();
    expect(fake.statements()).toEqual(['begin']);
    fake.issued[0]!.answer();
    await settle();
    expect(fake.statements()).toEqual(['begin', 'update outbox set attempts = 0']);
    fake.issued[1]!.answer();
    await settle();
    fake.issued[2]!.answer();
    await done;
    expect(fake.statements()).toEqual(['begin', 'update outbox set attempts = 0', 'commit']);
  });

  it('sends a pipelined transaction whole before any answer, and answers it once COMMIT is answered', async () => {
    const fake = fakePostgres();
    const db = new Kysely({ dialect: new TenantPipelineDialect({ postgres: fake.postgres as never }) });
    let answered = false;
    const done = pipelineWithTenant(db, orgId, [sql`select 1`.compile(db), sql`select 2`.compile(db)]).then((rows) => {
      answered = true;
      return rows;
    });
    await settle();
    expect(fake.statements()).toEqual(['begin', 'select set_config', 'select 1', 'select 2', 'commit']);
    for (const statement of fake.issued.slice(0, 4)) statement.answer();
    await settle();
    expect(answered).toBe(false);
    fake.issued[4]!.answer();
    expect(await done).toEqual([[], []]);
  });

  it('fails a pipelined transaction with the first statement that failed, once every answer is in', async () => {
    const fake = fakePostgres();
    const db = new Kysely({ dialect: new TenantPipelineDialect({ postgres: fake.postgres as never }) });
    const done = pipelineWithTenant(db, orgId, [sql`insert into users default values`.compile(db), sql`select 2`.compile(db)]);
    done.catch(() => {});
    await settle();
    fake.issued[0]!.answer();
    fake.issued[1]!.answer();
    fake.issued[2]!.answer(new Error('new row violates row-level security policy'));
    fake.issued[3]!.answer(new Error('current transaction is aborted'));
    let settled = false;
    void done.catch(() => (settled = true));
    await settle();
    // COMMIT, which ends the aborted transaction as a rollback, is still awaited.
    expect(settled).toBe(false);
    fake.issued[4]!.answer();
    await expect(done).rejects.toThrow('row-level security');
  });
});
