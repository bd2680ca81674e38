import { sql, type Kysely, type Transaction } from 'kysely';
import type { SourceDatabase } from '@tenant-sync/db';
import { OperatorError } from './errors.ts';

type Db = Kysely<SourceDatabase>;
type Trx = Transaction<SourceDatabase>;

/**
 * Runs `work` in one transaction of the operator's login: the database's audit trigger records
 * each change under that login, and `audit` adds a line for what changes no table.
 */
export function asOperator<T>(db: Db, work: (trx: Trx) => Promise<T>): Promise<T> {
  return db.transaction().execute(work);
}

/** Has the database record `command` under the session's login and the server's clock. */
export async function audit(trx: Trx, command: string, orgId: string | null, detail: object = {}): Promise<void> {
  // Sent as text and parsed by the server: a parameter typed jsonb would be encoded by the
  // driver a second time, and the entry would hold a JSON string instead of an object.
  await sql`select record_operator_action(${command}, ${orgId}::uuid, ${JSON.stringify(detail)}::text::jsonb)`.execute(trx);
}

export async function createOrg(trx: Trx, org: { id: string; name: string; admin?: string | undefined }) {
  const created = await trx
    .insertInto('organizations')
    .values({ id: org.id, name: org.name })
    .onConflict((conflict) => conflict.column('id').doNothing())
    .returning('id')
    .executeTakeFirst();
  if (!created) throw new OperatorError(`organisation ${org.id} already exists`);
  if (org.admin) await trx.insertInto('memberships').values({ org_id: org.id, subject: org.admin, role: 'tenant_admin' }).execute();
}

export async function setOrgStatus(trx: Trx, orgId: string, status: 'ACTIVE' | 'SUSPENDED') {
  const before = await trx.selectFrom('organizations').select('status').where('id', '=', orgId).forUpdate().executeTakeFirst();
  if (!before) throw new OperatorError(`no organisation ${orgId}`);
  if (before.status === status) return false;
  await trx.updateTable('organizations').set({ status }).where('id', '=', orgId).execute();
  return true;
}

export async function addMember(trx: Trx, orgId: string, subject: string, role: 'member' | 'tenant_admin') {
  await requireOrg(trx, orgId);
  await trx
    .insertInto('memberships')
    .values({ org_id: orgId, subject, role })
    .onConflict((conflict) => conflict.columns(['org_id', 'subject']).doUpdateSet({ role, status: 'ACTIVE' }))
    .execute();
}

export async function removeMember(trx: Trx, orgId: string, subject: string) {
  const removed = await trx
    .updateTable('memberships')
    .set({ status: 'REMOVED' })
    .where('org_id', '=', orgId)
    .where('subject', '=', subject)
    .where('status', '=', 'ACTIVE')
    .executeTakeFirst();
  if (removed.numUpdatedRows === 0n) throw new OperatorError(`${subject} is not an active member of ${orgId}`);
}

async function requireOrg(trx: Trx, orgId: string) {
  const org = await trx.selectFrom('organizations').select('id').where('id', '=', orgId).executeTakeFirst();
  if (!org) throw new OperatorError(`no organisation ${orgId}`);
}

export function listOrgs(trx: Trx) {
  return trx
    .selectFrom('organizations as o')
    .leftJoin('memberships as m', (join) => join.onRef('m.org_id', '=', 'o.id').on('m.status', '=', 'ACTIVE'))
    .select(['o.id', 'o.name', 'o.status', 'o.created_at'])
    .select((eb) => eb.fn.count<number>('m.subject').as('members'))
    .groupBy(['o.id', 'o.name', 'o.status', 'o.created_at'])
    .orderBy('o.created_at')
    .execute();
}

export function listMembers(trx: Trx, orgId: string) {
  return trx.selectFrom('memberships').select(['subject', 'role', 'status', 'created_at']).where('org_id', '=', orgId).orderBy('subject').execute();
}

/** Per tenant: rows waiting, rows leased by a relay now, rows parked, and the oldest wait. */
export function outboxState(trx: Trx) {
  return trx
    .selectFrom('outbox')
    .select('org_id')
    .select((eb) => [
      eb.fn.countAll<number>().filterWhere('parked_at', 'is', null).as('pending'),
      eb.fn.countAll<number>().filterWhere('lease_until', '>', sql<Date>`now()`).as('leased'),
      eb.fn.countAll<number>().filterWhere('parked_at', 'is not', null).as('parked'),
      sql<number | null>`extract(epoch from now() - min(created_at) filter (where parked_at is null))`.as('oldest_pending_s'),
    ])
    .groupBy('org_id')
    .orderBy('org_id')
    .execute();
}

export function parkedRows(trx: Trx, limit: number) {
  return trx
    .selectFrom('outbox')
    .select(['id', 'org_id', 'aggregate_id', 'action', 'version', 'parked_at', 'park_reason'])
    .where('parked_at', 'is not', null)
    .orderBy('id')
    .limit(limit)
    .execute();
}

export function auditTrail(trx: Trx, limit: number) {
  return trx.selectFrom('operator_audit_log').select(['at', 'operator', 'db_role', 'command', 'org_id']).orderBy('id', 'desc').limit(limit).execute();
}
