import { sql, type Kysely, type Transaction } from 'kysely';
import { isOrgId, type OrgId } from '@tenant-sync/contracts';
import { InvalidTenantError } from './errors.ts';

export interface TenantTransactionOptions {
  /** A W3C traceparent, carried into the outbox row written by this transaction. */
  traceparent?: string | undefined;
}

/**
 * Runs `work` in a transaction whose first statement sets the tenant for row level security,
 * with the parameterised, transaction-local form of SET LOCAL. The setting ends with the
 * transaction, so a pooled connection never carries a tenant into the next one.
 */
export async function withTenant<DB, T>(
  db: Kysely<DB>,
  orgId: OrgId,
  work: (trx: Transaction<DB>) => Promise<T>,
  options: TenantTransactionOptions = {},
): Promise<T> {
  if (!isOrgId(orgId)) throw new InvalidTenantError();
  return db.transaction().execute(async (trx) => {
    if (options.traceparent) {
      await sql`select set_config('app.current_tenant', ${orgId}, true), set_config('app.traceparent', ${options.traceparent}, true)`.execute(trx);
    } else {
      await sql`select set_config('app.current_tenant', ${orgId}, true)`.execute(trx);
    }
    return work(trx);
  });
}
