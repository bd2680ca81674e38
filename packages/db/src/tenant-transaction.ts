import { SpanKind, type Context } from '@opentelemetry/api';
import { CompiledQuery, type Kysely, type Transaction } from 'kysely';
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
 * The tenant setting of a transaction, with the text written out: it is the first statement of
 * every tenant transaction, and built through Kysely it was compiled afresh each time.
 */
const tenantSetting = (orgId: OrgId, traceparent: string) =>
  CompiledQuery.raw("select set_config('app.current_tenant', $1, true), set_config('app.traceparent', $2, true)", [orgId, traceparent]);

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
      await trx.executeQuery(tenantSetting(orgId, traceparentOf(span)));
      return work(trx);
    }),
  );
}

/**
 * Runs `queries` in one tenant transaction written as one pipeline: BEGIN, the tenant setting,
 * the queries and COMMIT go out together and their answers come back together. One round trip,
 * where `withTenant` takes one per statement and two more; on a busy machine each round trip
 * is a wake-up of the database backend and of the app. For statements that need no answer of
 * another to be built: a read of two tables, a write in chunks. Returns each query's rows.
 *
 * The transaction holds as in `withTenant`. A statement that fails aborts it, every statement
 * after it fails, and the COMMIT then ends it as a rollback: nothing of it stays, and the call
 * throws the first statement's error. The setting is sent after BEGIN on the same connection,
 * so no query runs before it; were BEGIN refused, the setting would end with its own statement
 * and the policies, comparing with no tenant, would show the queries no row.
 */
export async function pipelineWithTenant<DB>(
  db: Kysely<DB>,
  orgId: OrgId,
  queries: readonly CompiledQuery[],
  options: TenantTransactionOptions = {},
): Promise<Array<Array<Record<string, unknown>>>> {
  if (!isOrgId(orgId)) throw new InvalidTenantError();
  const attributes = { 'db.system.name': 'postgresql', 'tenant.id': orgId, 'db.operation.batch.size': queries.length };
  return inSpan('tenant transaction', options.trace, { kind: SpanKind.CLIENT, attributes }, (span) =>
    // The driver's own connection, not a Kysely bound to it: that one waits for each answer
    // before it sends the next statement.
    db.getExecutor().provideConnection(async (connection) => {
      const statements = [CompiledQuery.raw('begin'), tenantSetting(orgId, traceparentOf(span)), ...queries, CompiledQuery.raw('commit')];
      const answers = await Promise.allSettled(statements.map((statement) => connection.executeQuery<Record<string, unknown>>(statement)));
      const failed = answers.find((answer) => answer.status === 'rejected');
      if (failed) throw failed.reason;
      return answers.slice(2, -1).map((answer) => (answer as PromiseFulfilledResult<{ rows: Array<Record<string, unknown>> }>).value.rows);
    }),
  );
}
