import type { Kysely } from 'kysely';
import type { Logger } from 'pino';
import type { User } from '@tenant-sync/contracts';
import { withTenant, type ConsumerDatabase } from '@tenant-sync/db';
import type { ReferenceClient } from './reference-client.ts';
import { contentOf, isLive, localVersions, removeRows, replaceRow, writeSourceStates, type LocalVersion, type SourceTombstone } from './synced-tables.ts';

/** What one tenant's reconciliation found and repaired. */
export interface ReconcileReport {
  orgId: string;
  /** Ids looked at: the source's and the local extras. */
  checked: number;
  /** Live entities the local copy lacked. */
  inserted: number;
  /** Local rows of another version or state than the source's (ahead or behind), or (deep) other content. */
  updated: number;
  /** Deletions the local copy lacked or held at another version. */
  tombstoned: number;
  /** Local rows the source does not know at all (never existed, or its tombstone was purged). */
  removed: number;
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

/** What reconciliation must make a local id: the source's live entity, its tombstone, or nothing. */
type Repair = { id: string; local: LocalVersion | undefined } & ({ fetch: true } | { fetch: false; tombstone: SourceTombstone | null });

/**
 * Makes one tenant's copy equal to the source, whatever state it is in (rows ahead, behind,
 * missing, extra, of forged versions). Page by page in id order, it compares the source's
 * `{id, version, deleted}` listing (live entities and tombstones) with the local rows:
 * - an id live at the source whose local row is missing, of another version, or a tombstone is
 *   fetched and written, whatever the local version (a row ahead of the source is wrong too);
 * - an id deleted at the source gets the source's tombstone;
 * - a local id the source does not list at all is removed.
 * Every replacement is guarded by the local version seen, so a change the consumer applies
 * meanwhile is never overwritten; the next run checks that row again.
 */
export async function reconcileTenant(options: ReconcileOptions, orgId: string): Promise<ReconcileReport> {
  const { db, reference, logger, pageSize = 1_000, deep = false } = options;
  const report: ReconcileReport = { orgId, checked: 0, inserted: 0, updated: 0, tombstoned: 0, removed: 0 };
  if (!(await reference.orgActive(orgId))) return { ...report, skipped: 'organisation unknown or not active at the source' };

  let after: string | null = null;
  for (;;) {
    const page = await reference.listVersions(orgId, after, pageSize);
    const upTo = page.nextCursor ?? null;
    const local = new Map((await withTenant(db, orgId, (trx) => localVersions(trx, after, upTo))).map((row) => [row.id, row]));

    const repairs: Repair[] = [];
    for (const { id, version, deleted } of page.items) {
      const row = local.get(id);
      local.delete(id);
      if (deleted) {
        if (!row || !row.deleted || row.version !== version) repairs.push({ id, local: row, fetch: false, tombstone: { id, version } });
      } else if (!row || row.deleted || row.version !== version || deep) {
        repairs.push({ id, local: row, fetch: true });
      }
    }
    // What is left locally is unknown to the source.
    for (const row of local.values()) repairs.push({ id: row.id, local: row, fetch: false, tombstone: null });
    report.checked += page.items.length + local.size;

    for (let start = 0; start < repairs.length; start += pageSize) {
      await repair(options, orgId, repairs.slice(start, start + pageSize), report);
    }
    options.onProgress?.(orgId, report.checked);
    if (!page.nextCursor) break;
    after = page.nextCursor;
  }
  logger.info({ tenantId: orgId, ...report }, 'tenant reconciled');
  return report;
}

async function repair({ db, reference }: ReconcileOptions, orgId: string, repairs: Repair[], report: ReconcileReport): Promise<void> {
  const toFetch = repairs.filter((item) => item.fetch).map((item) => item.id);
  const answer = toFetch.length > 0 ? await reference.fetchUsers(orgId, toFetch) : { data: [], deleted: [], missing: [] };
  const fetched = new Map<string, User | SourceTombstone | null>([
    ...answer.data.map((user) => [user.id, user] as const),
    ...answer.deleted.map((tombstone) => [tombstone.id, tombstone] as const),
    ...answer.missing.map((id) => [id, null] as const),
  ]);
  await withTenant(db, orgId, async (trx) => {
    const fresh: { users: User[]; tombstones: SourceTombstone[] } = { users: [], tombstones: [] };
    const gone: Array<{ id: string; version: number }> = [];
    for (const item of repairs) {
      const state = item.fetch ? fetched.get(item.id) : item.tombstone;
      if (state === undefined) continue;
      if (state === null) {
        if (item.local) gone.push({ id: item.id, version: item.local.version });
      } else if (!item.local) {
        if (isLive(state)) {
          fresh.users.push(state);
          report.inserted += 1;
        } else {
          fresh.tombstones.push(state);
          report.tombstoned += 1;
        }
      } else if (isLive(state) && !item.local.deleted && item.local.version === state.version && item.local.content === contentOf(state)) {
        // Deep mode: equal after all.
      } else if (await replaceRow(trx, item.id, item.local.version, state)) {
        if (isLive(state)) report.updated += 1;
        else report.tombstoned += 1;
      }
    }
    // Rows missing locally: inserted unless the consumer wrote a newer version meanwhile.
    await writeSourceStates(trx, orgId, fresh.users, fresh.tombstones);
    report.removed += await removeRows(trx, gone);
  });
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
 * at once. Which tenants: `tenants()` at each run — the consumer passes every tenant it holds
 * rows for (`tenantsWithSyncedData`), the configured list (RECONCILE_TENANTS) and every tenant
 * it has seen in a message since it started.
 */
export function scheduleReconciliation({
  intervalMs,
  tenants,
  options,
  onRun,
}: {
  intervalMs: number;
  tenants: () => Promise<Iterable<string>>;
  options: ReconcileOptions;
  onRun?: (result: Awaited<ReturnType<typeof reconcileTenants>>) => void;
}) {
  let timer: NodeJS.Timeout | undefined;
  let running: Promise<void> | undefined;
  let stopped = false;
  const tick = () => {
    running = tenants()
      .then((orgIds) => reconcileTenants(options, orgIds))
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
