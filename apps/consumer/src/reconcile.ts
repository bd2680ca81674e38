import type { Kysely } from 'kysely';
import type { Logger } from 'pino';
import { parseOrgId, type OrgId } from '@tenant-sync/contracts';
import { withTenant, type ConsumerDatabase } from '@tenant-sync/db';
import { isTenantRefusal, orgInactiveReason } from './errors.ts';
import type { ReferenceClient } from './reference-client.ts';
import { contentOf, isLive, localVersions, removeRows, replaceRow, writeSourceStates, type LocalVersion, type SourceTombstone } from './synced-tables.ts';
import type { SourceEntity, SyncedType } from './synced-types.ts';

/** What one tenant's reconciliation of one type found and repaired. */
export interface ReconcileReport {
  orgId: string;
  entityType: string;
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
  reference: Pick<ReferenceClient, 'listVersions' | 'fetchEntities'>;
  /** The types to reconcile. */
  types: readonly SyncedType[];
  logger: Logger;
  /** Size of a page of the source's listing (and of a batch fetch). */
  pageSize?: number;
  /** Also fetch rows whose version agrees and compare their content. */
  deep?: boolean;
  /** Hears each page: ids checked so far. */
  onProgress?: (orgId: string, entityType: string, checked: number) => void;
}

/** What reconciliation must make a local id: the source's live entity, its tombstone, or nothing. */
type Repair = { id: string; local: LocalVersion | undefined } & ({ fetch: true } | { fetch: false; tombstone: SourceTombstone | null });

/**
 * Makes one tenant's copy of one type equal to the source, whatever state it is in (rows ahead, behind,
 * missing, extra, of forged versions). Page by page in id order, it compares the source's
 * `{id, version, deleted}` listing (live entities and tombstones) with the local rows:
 * - an id live at the source whose local row is missing, of another version, or a tombstone is
 *   fetched and written, whatever the local version (a row ahead of the source is wrong too);
 * - an id deleted at the source gets the source's tombstone;
 * - a local id the source does not list at all is removed.
 * Every replacement is guarded by the local version seen, so a change the consumer applies
 * meanwhile is never overwritten; the next run checks that row again.
 */
export async function reconcileTenant(options: ReconcileOptions, synced: SyncedType, orgId: OrgId): Promise<ReconcileReport> {
  const { db, reference, logger, pageSize = 1_000, deep = false } = options;
  const report: ReconcileReport = { orgId, entityType: synced.type, checked: 0, inserted: 0, updated: 0, tombstoned: 0, removed: 0 };

  let after: string | null = null;
  for (;;) {
    let page;
    try {
      page = await reference.listVersions(synced.path, orgId, after, pageSize);
    } catch (error) {
      // The source serves no such tenant: nothing to compare with, and nothing is removed.
      if (isTenantRefusal(error)) return { ...report, skipped: orgInactiveReason };
      throw error;
    }
    const upTo = page.nextCursor ?? null;
    const local = new Map((await withTenant(db, orgId, (trx) => localVersions(trx, synced, after, upTo))).map((row) => [row.id, row]));

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
      await repair(options, synced, orgId, repairs.slice(start, start + pageSize), report);
    }
    options.onProgress?.(orgId, synced.type, report.checked);
    if (!page.nextCursor) break;
    after = page.nextCursor;
  }
  logger.info({ tenantId: orgId, ...report }, 'tenant reconciled');
  return report;
}

async function repair({ db, reference }: ReconcileOptions, synced: SyncedType, orgId: OrgId, repairs: Repair[], report: ReconcileReport): Promise<void> {
  const toFetch = repairs.filter((item) => item.fetch).map((item) => item.id);
  const answer = toFetch.length > 0 ? await reference.fetchEntities(synced.path, orgId, toFetch) : { data: [], deleted: [], missing: [] };
  const fetched = new Map<string, SourceEntity | SourceTombstone | null>([
    ...answer.data.map((entity) => [entity.id, entity] as const),
    ...answer.deleted.map((tombstone) => [tombstone.id, tombstone] as const),
    ...answer.missing.map((id) => [id, null] as const),
  ]);
  await withTenant(db, orgId, async (trx) => {
    const fresh: { entities: SourceEntity[]; tombstones: SourceTombstone[] } = { entities: [], tombstones: [] };
    const gone: Array<{ id: string; version: number }> = [];
    for (const item of repairs) {
      const state = item.fetch ? fetched.get(item.id) : item.tombstone;
      if (state === undefined) continue;
      if (state === null) {
        if (item.local) gone.push({ id: item.id, version: item.local.version });
      } else if (!item.local) {
        if (isLive(state)) {
          fresh.entities.push(state);
          report.inserted += 1;
        } else {
          fresh.tombstones.push(state);
          report.tombstoned += 1;
        }
      } else if (isLive(state) && !item.local.deleted && item.local.version === state.version && item.local.content === contentOf(synced, state)) {
        // Deep mode: equal after all.
      } else if (await replaceRow(trx, synced, item.id, item.local.version, state)) {
        if (isLive(state)) report.updated += 1;
        else report.tombstoned += 1;
      }
    }
    // Rows missing locally: inserted unless the consumer wrote a newer version meanwhile.
    await writeSourceStates(trx, synced, orgId, fresh.entities, fresh.tombstones);
    report.removed += await removeRows(trx, synced, gone);
  });
}

/** Reconciles each tenant in turn, every type of it; a tenant that fails is reported with its error and the rest go on. */
export async function reconcileTenants(options: ReconcileOptions, orgIds: Iterable<string>) {
  const reports: ReconcileReport[] = [];
  const errors: Array<{ orgId: string; error: unknown }> = [];
  const tenants = new Set<OrgId>();
  for (const id of orgIds) {
    const orgId = parseOrgId(id);
    if (orgId) tenants.add(orgId);
    else errors.push({ orgId: id, error: new Error('not an org id') });
  }
  for (const orgId of tenants) {
    try {
      for (const synced of options.types) reports.push(await reconcileTenant(options, synced, orgId));
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
