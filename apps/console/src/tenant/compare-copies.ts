import type { EntityListing, EntityVersion } from './tenant-apis.ts';

export type RowState = 'in sync' | 'behind' | 'not copied yet' | 'deletion pending';

export interface ComparedRow {
  id: string;
  name: string;
  sourceVersion: number | null;
  copyVersion: number | null;
  state: RowState;
  /** When the source last changed it (or, for a deletion not yet copied, when the copy had it last). */
  updatedAt: string;
}

/** One entity type of one tenant: the source's list against the consumer's copy. */
export interface CopyComparison {
  /** Changes the copy does not have yet: entities newer at the source, missing, or deleted there. */
  pending: number;
  /** Age, in seconds, of the oldest change at the source that the copy does not have yet. */
  oldestPendingSeconds: number | null;
  /** The entity of the copy changed last at the source: the newest version synced. */
  newestSynced: EntityVersion | null;
  /** The entities changed last, newest first, with both versions. */
  recent: ComparedRow[];
}

/**
 * Compares the source's entities with the copy's. Versions only grow, so an entity whose copy
 * has a lower version (or none) is a change on its way; one that only the copy still has was
 * deleted at the source and its deletion is on its way. Both lists must be complete for the
 * answer to be; the caller says so when a list was cut at the scan limit.
 */
export function compareCopies(source: EntityListing, copy: EntityListing, now: Date, recentCount = 8): CopyComparison | null {
  if (!source.available || !copy.available) return null;
  const copied = new Map(copy.items.map((item) => [item.id, item]));
  const atSource = new Set(source.items.map((item) => item.id));
  const rows: ComparedRow[] = source.items.map((item) => {
    const mirror = copied.get(item.id);
    const state: RowState = !mirror ? 'not copied yet' : mirror.version < item.version ? 'behind' : 'in sync';
    return { id: item.id, name: item.name, sourceVersion: item.version, copyVersion: mirror?.version ?? null, state, updatedAt: item.updatedAt };
  });
  for (const item of copy.items) {
    if (!atSource.has(item.id) && source.complete) {
      rows.push({ id: item.id, name: item.name, sourceVersion: null, copyVersion: item.version, state: 'deletion pending', updatedAt: item.updatedAt });
    }
  }
  const pendingRows = rows.filter((row) => row.state !== 'in sync');
  const pendingSince = pendingRows.filter((row) => row.sourceVersion !== null).map((row) => Date.parse(row.updatedAt));
  const newestSynced = copy.items.reduce<EntityVersion | null>((newest, item) => (!newest || item.updatedAt > newest.updatedAt ? item : newest), null);
  return {
    pending: pendingRows.length,
    oldestPendingSeconds: pendingSince.length > 0 ? Math.max(0, (now.getTime() - Math.min(...pendingSince)) / 1_000) : null,
    newestSynced,
    recent: rows.sort((a, b) => b.updatedAt.localeCompare(a.updatedAt) || a.id.localeCompare(b.id)).slice(0, recentCount),
  };
}
