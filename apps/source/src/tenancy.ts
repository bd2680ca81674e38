import { CompiledQuery, type Kysely } from 'kysely';
import type { SourceDatabase } from '@tenant-sync/db';
import { withTenant } from '@tenant-sync/db';
import type { OrgId } from '@tenant-sync/contracts';
import type { Membership } from '@tenant-sync/tenant-auth';

/**
 * The organisation's status, null when it does not exist (014-organization-status.sql): asked
 * alone by `orgStatus`, and with the rows by the Reference API's fetches (`findStates`).
 */
export const orgStatusStatement = (orgId: OrgId) => CompiledQuery.raw('SELECT organization_status($1::uuid) AS status', [orgId]);

/** Organisation and membership look-ups, run under the organisation's own tenant context. */
export function createTenancyQueries(db: Kysely<SourceDatabase>) {
  return {
    async membership(orgId: OrgId, subject: string): Promise<Membership | null> {
      const row = await withTenant(db, orgId, (trx) =>
        trx
          .selectFrom('organizations')
          .leftJoin('memberships', (join) =>
            join.onRef('memberships.org_id', '=', 'organizations.id').on('memberships.subject', '=', subject),
          )
          .select(['organizations.status as orgStatus', 'memberships.role', 'memberships.status as memberStatus'])
          .where('organizations.id', '=', orgId)
          .executeTakeFirst(),
      );
      return row ?? null;
    },

    /**
     * One statement, not a tenant transaction: the Reference API asks it on every call that
     * does not read it with its rows (`findStates`), and the transaction's four round trips
     * were as many as the call it guards (014-organization-status.sql).
     */
    async orgStatus(orgId: OrgId): Promise<string | null> {
      const { rows } = await db.executeQuery<{ status: string | null }>(orgStatusStatement(orgId));
      return rows[0]?.status ?? null;
    },
  };
}

export type TenancyQueries = ReturnType<typeof createTenancyQueries>;
