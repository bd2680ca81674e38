import type { Kysely } from 'kysely';
import type { SourceDatabase } from '@tenant-sync/db';
import type { LookupMembership } from '@tenant-sync/tenant-auth';

/**
 * The status of an organisation and a subject's membership in it, as the source's database
 * holds them, read as the operator login (the one role the console has; it can read
 * organisations and memberships but no tenant's users). The question is always about the org
 * and subject of a token whose signature was verified already.
 */
export function membershipAsOperator(db: Kysely<SourceDatabase>): LookupMembership {
  return async (orgId, subject) => {
    const row = await db
      .selectFrom('organizations')
      .leftJoin('memberships', (join) => join.onRef('memberships.org_id', '=', 'organizations.id').on('memberships.subject', '=', subject))
      .select(['organizations.status as orgStatus', 'memberships.role', 'memberships.status as memberStatus'])
      .where('organizations.id', '=', orgId)
      .executeTakeFirst();
    return row ?? null;
  };
}
