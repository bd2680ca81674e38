import { SpanKind, type Context } from '@opentelemetry/api';
import { sql, type Kysely, type Transaction } from 'kysely';
import { isOrgId, type OrgId } from '@tenant-sync/contracts';
import { inSpan, traceparentOf } from '@tenant-sync/tracing';
import { InvalidTenantError } from './errors.ts';

export interface TenantTransactionOptions {
  /**
   * The trace the transaction works for (a request's, a consumer round's): its span is a child
   * of it, and the outbox row the transaction writes carries that span as its traceparent.
   */
  trace?: Context | undefined;
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
  const attributes = { 'db.system.name': 'postgresql', 'tenant.id': orgId };
  return inSpan('tenant transaction', options.trace, { kind: SpanKind.CLIENT, attributes }, (span) =>
    db.transaction().execute(async (trx) => {
      // Sent together with BEGIN (TENANT_SETTING_PREFIX, tenant-pipeline-dialect.ts): keep its start.
      await sql`select set_config('app.current_tenant', ${orgId}, true), set_config('app.traceparent', ${traceparentOf(span)}, true)`.execute(trx);
      return work(trx);
    }),
  );
}
