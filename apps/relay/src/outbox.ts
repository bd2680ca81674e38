import { sql, type Kysely } from 'kysely';
import type { OutboxRow, SourceDatabase } from '@tenant-sync/db';

/**
 * Claims up to `limit` pending rows by leasing them to `owner` for `leaseMs`, in one short
 * statement: no transaction stays open while the batch is published.
 *
 * Order per entity: only the head row of an entity (no older unparked row of the same
 * aggregate exists) can be claimed, so while one relay holds an entity's row no other relay
 * can publish that entity's next change. Rows are claimed by state (lease expired or never
 * leased), never by an id high-water mark, because ids are assigned before commit and commits
 * land out of order. A relay that dies leaves its lease to expire; the rows are claimed again.
 *
 * `afterId` only narrows where the scan starts, to skip the index entries of rows deleted
 * since the last vacuum while a backlog drains; the caller still claims without it regularly,
 * so a row committed late with a low id waits at most a few batches.
 */
export async function claimBatch(db: Kysely<SourceDatabase>, owner: string, limit: number, leaseMs: number, afterId = 0): Promise<OutboxRow[]> {
  const result = await sql<OutboxRow>`
    UPDATE outbox
       SET lease_owner = ${owner},
           lease_until = clock_timestamp() + make_interval(secs => ${leaseMs / 1000}),
           attempts = attempts + 1
     WHERE id = ANY (ARRAY(
       SELECT candidate.id
         FROM outbox candidate
        WHERE candidate.parked_at IS NULL
          AND candidate.id > ${afterId}
          AND (candidate.lease_until IS NULL OR candidate.lease_until < clock_timestamp())
          AND NOT EXISTS (
                SELECT 1 FROM outbox prior
                 WHERE prior.aggregate_id = candidate.aggregate_id
                   AND prior.id < candidate.id
                   AND prior.parked_at IS NULL)
        ORDER BY candidate.id
        LIMIT ${limit}
          FOR UPDATE SKIP LOCKED))
    RETURNING *`.execute(db);
  return result.rows.sort((a, b) => Number(a.id) - Number(b.id));
}

/** While a backlog drains, every this many claims one scans the outbox from its start. */
const CLAIMS_PER_FULL_SCAN = 10;

/**
 * `claimBatch` for one relay. Given the last row of the batch in flight, the claim starts
 * just past it, skipping the dead index entries of the rows deleted before; every
 * `CLAIMS_PER_FULL_SCAN`-th claim, and every claim after a pause, scans from the start.
 */
export function createClaimer(db: Kysely<SourceDatabase>, owner: string, limit: number, leaseMs: number) {
  let boundedClaims = 0;
  return (after?: OutboxRow): Promise<OutboxRow[]> => {
    const afterId = after && boundedClaims < CLAIMS_PER_FULL_SCAN ? Number(after.id) : 0;
    boundedClaims = afterId > 0 ? boundedClaims + 1 : 0;
    return claimBatch(db, owner, limit, leaseMs, afterId);
  };
}

/** Removes rows whose publication Kafka acknowledged; only rows this relay still leases. */
export async function deletePublished(db: Kysely<SourceDatabase>, owner: string, ids: number[]): Promise<void> {
  if (ids.length === 0) return;
  await db.deleteFrom('outbox').where('id', 'in', ids).where('lease_owner', '=', owner).execute();
}

/** Gives rows back after a failed publish, so they are claimed again (by any relay). */
export async function releaseLeases(db: Kysely<SourceDatabase>, owner: string, ids: number[], error: string): Promise<void> {
  if (ids.length === 0) return;
  await db
    .updateTable('outbox')
    .set({ lease_owner: null, lease_until: null, last_error: error.slice(0, 1000) })
    .where('id', 'in', ids)
    .where('lease_owner', '=', owner)
    .execute();
}

/** Takes a row out of the stream for good, keeping it with its reason for an operator. */
export async function parkRow(db: Kysely<SourceDatabase>, owner: string, id: number, reason: string): Promise<void> {
  await db
    .updateTable('outbox')
    .set({ parked_at: sql`clock_timestamp()`, park_reason: reason, lease_owner: null, lease_until: null })
    .where('id', '=', id)
    .where('lease_owner', '=', owner)
    .execute();
}

/** Pending rows and the age of the oldest, for metrics. */
export async function pendingStats(db: Kysely<SourceDatabase>): Promise<{ depth: number; oldestAgeSeconds: number; parked: number }> {
  const result = await sql<{ depth: string; oldest: string | null; parked: string }>`
    SELECT count(*) FILTER (WHERE parked_at IS NULL) AS depth,
           extract(epoch FROM clock_timestamp() - min(created_at) FILTER (WHERE parked_at IS NULL)) AS oldest,
           count(*) FILTER (WHERE parked_at IS NOT NULL) AS parked
      FROM outbox`.execute(db);
  const row = result.rows[0];
  return { depth: Number(row?.depth ?? 0), oldestAgeSeconds: Number(row?.oldest ?? 0), parked: Number(row?.parked ?? 0) };
}
