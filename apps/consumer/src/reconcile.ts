import type { Kysely } from 'kysely';
import type { Logger } from 'pino';
import type { User } from '@tenant-sync/contracts';
import { withTenant, type ConsumerDatabase } from '@tenant-sync/db';
import type { ReferenceClient } from './reference-client.ts';
import { copiedColumns, tombstoneUsers, upsertUsers } from './synced-users.ts';

/** What one tenant's reconciliation found and repaired. */
export interface ReconcileReport {
  orgId: string;
  /** Ids looked at: the source's and the local extras. */
  checked: number;
  /** Users the local copy lacked (no row, or only an older tombstone). */
  inserted: number;
  /** Live local rows of another version than the source's, or (deep) other content. */
  updated: number;
  /** Live local rows the source no longer has. */
  tombstoned: number;
  /** Set when the tenant was not reconciled, with the reason. */
  skipped?: string;
}

export interface ReconcileOptions {
  db: Kysely<ConsumerDatabase>;
  reference: Pick<ReferenceClient, 'listVersions' | 'fetchUsers' | 'orgActive'>;
  logger: Logger;
  /** Size of a page of the source's listing (and of a batch fetch). */
  pageSize?: number;
  /** Also fetch rows whose version agrees and compare their content. */
  deep?: boolean;
  /** Hears each page: ids checked so far. */
  onProgress?: (orgId: string, checked: number) => void;
}

interface LocalRow {
  id: string;
  version: number;
  deleted: boolean;
  content: string;
}

const contentOf = (user: Pick<User, 'name' | 'email' | 'phone' | 'createdAt' | 'updatedAt'>) =>
  JSON.stringify([user.name, user.email, user.phone ?? null, new Date(user.createdAt).getTime(), new Date(user.updatedAt).getTime()]);

async function localRange(db: Kysely<ConsumerDatabase>, orgId: string, after: string | null, upTo: string | null): Promise<LocalRow[]> {
  const rows = await withTenant(db, orgId, (trx) => {
    let query = trx
      .selectFrom('synced_users')
      .select(['id', 'version', 'deleted_at', 'name', 'email', 'phone', 'source_created_at', 'source_updated_at'])
      .orderBy('id');
    if (after) query = query.where('id', '>', after);
    if (upTo) query = query.where('id', '<=', upTo);
    return query.execute();
  });
  return rows.map((row) => ({
    id: row.id,
    version: Number(row.version),
    deleted: row.deleted_at !== null,
    content: contentOf({
      name: row.name ?? '',
      email: row.email ?? '',
      phone: row.phone,
      createdAt: (row.source_created_at ?? new Date(0)).toISOString(),
      updatedAt: (row.source_updated_at ?? new Date(0)).toISOString(),
    }),
  }));
}

/**
 * Compares one tenant's `{id, version}` listing at the source with the local copy (tombstones
 * included), page by page in id order, and repairs the drift: users missing or of another
 * version locally are fetched with the batch API and written; live local rows the source no
 * longer has become tombstones. Every repair is re-checked against the source and guarded by
 * the version seen, so a change the consumer applies meanwhile is never overwritten with an
 * older state and a user created meanwhile is never tombstoned.
 */
export async function reconcileTenant(options: ReconcileOptions, orgId: string): Promise<ReconcileReport> {
  const { db, reference, logger, pageSize = 1_000, deep = false } = options;
  const report: ReconcileReport = { orgId, checked: 0, inserted: 0, updated: 0, tombstoned: 0 };
  if (!(await reference.orgActive(orgId))) return { ...report, skipped: 'organisation unknown or not active at the source' };

  let after: string | null = null;
  for (;;) {
    const page = await reference.listVersions(orgId, after, pageSize);
    const upTo = page.nextCursor ?? null;
    const local = new Map((await localRange(db, orgId, after, upTo)).map((row) => [row.id, row]));

    const toFetch = new Map<string, LocalRow | undefined>();
    for (const { id, version } of page.items) {
      const row = local.get(id);
      local.delete(id);
      if (!row || row.deleted || row.version !== version || deep) toFetch.set(id, row);
    }
    // What is left locally is unknown to the source: a tombstone unless a fetch finds it after all.
    const extras = [...local.values()].filter((row) => !row.deleted);
    for (const row of extras) toFetch.set(row.id, row);
    report.checked += page.items.length + local.size;

    const ids = [...toFetch.keys()];
    for (let start = 0; start < ids.length; start += pageSize) {
      const chunk = ids.slice(start, start + pageSize);
      const answer = await reference.fetchUsers(orgId, chunk);
      await withTenant(db, orgId, async (trx) => {
        const fresh: User[] = [];
        for (const user of answer.data) {
          const row = toFetch.get(user.id);
          if (!row || row.deleted) {
            fresh.push(user);
            report.inserted += 1;
          } else if (row.version < user.version) {
            fresh.push(user);
            report.updated += 1;
          } else if (row.version > user.version || row.content !== contentOf(user)) {
            // The local row is ahead of the source or was altered: overwrite it only if it is
            // still the row we saw.
            const result = await trx
              .updateTable('synced_users')
              .set({ ...copiedColumns(user), deleted_at: null })
              .where('id', '=', user.id)
              .where('version', '=', row.version)
              .executeTakeFirst();
            if (result.numUpdatedRows > 0n) report.updated += 1;
          }
        }
        await upsertUsers(trx, fresh);
        const gone = answer.missing.flatMap((id) => {
          const row = toFetch.get(id);
          return row && !row.deleted ? [{ id, version: row.version + 1 }] : [];
        });
        await tombstoneUsers(trx, orgId, gone);
        report.tombstoned += gone.length;
      });
    }
    options.onProgress?.(orgId, report.checked);
    if (!page.nextCursor) break;
    after = page.nextCursor;
  }
  logger.info({ tenantId: orgId, ...report }, 'tenant reconciled');
  return report;
}

/** Reconciles each tenant in turn; a tenant that fails is reported with its error and the rest go on. */
export async function reconcileTenants(options: ReconcileOptions, orgIds: Iterable<string>) {
  const reports: ReconcileReport[] = [];
  const errors: Array<{ orgId: string; error: unknown }> = [];
  for (const orgId of new Set([...orgIds].map((id) => id.toLowerCase()))) {
    try {
      reports.push(await reconcileTenant(options, orgId));
    } catch (error) {
      options.logger.error({ err: error, tenantId: orgId }, 'tenant reconciliation failed');
      errors.push({ orgId, error });
    }
  }
  return { reports, errors };
}

/**
 * Runs reconciliation every `intervalMs` (the first run one interval after start), never two
 * at once. Which tenants: `tenants()` at each run — the consumer passes the configured list
 * (RECONCILE_TENANTS) joined with every tenant it has seen in a message since it started.
 * The consumer's own role cannot list tenants across RLS, and the source's mTLS listener
 * serves one tenant per request, so there is no cross-tenant "all orgs" query to ask.
 */
export function scheduleReconciliation({
  intervalMs,
  tenants,
  options,
  onRun,
}: {
  intervalMs: number;
  tenants: () => Iterable<string>;
  options: ReconcileOptions;
  onRun?: (result: Awaited<ReturnType<typeof reconcileTenants>>) => void;
}) {
  let timer: NodeJS.Timeout | undefined;
  let running: Promise<void> | undefined;
  let stopped = false;
  const tick = () => {
    running = reconcileTenants(options, tenants())
      .then((result) => onRun?.(result))
      .catch((error: unknown) => options.logger.error({ err: error }, 'reconciliation failed'))
      .finally(() => {
        running = undefined;
        if (!stopped) timer = setTimeout(tick, intervalMs).unref();
      });
  };
  if (intervalMs > 0) timer = setTimeout(tick, intervalMs).unref();
  return {
    async stop(): Promise<void> {
      stopped = true;
      clearTimeout(timer);
      await running;
    },
  };
}
