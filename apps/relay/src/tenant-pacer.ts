import type { OutboxRow } from '@tenant-sync/db';

/** What the pacer reads of a claimed row. */
type TenantRow = Pick<OutboxRow, 'org_id'>;

/** How long after its last claimed row a tenant still counts as having changes. */
const SHARING_WINDOW_MS = 1_000;

/**
 * A paced tenant's burst: this many seconds of its rate, at most a batch. A pace that binds
 * hands the consumers the import in small steps: in bursts of a twentieth of a second instead
 * of a quarter, a quiet tenant's p95 during an import halved (BENCHMARKS.md, "The trade a pace
 * makes").
 */
const BURST_SECONDS = 0.05;

/**
 * Paces each tenant to `rate()` rows a second while other tenants have changes too (a token
 * bucket per tenant). The turns already share every batch between tenants; pacing shares time.
 * An import drains faster through the relay than any consumer applies it, and that burst, not
 * the order of the rows, is what held a quiet tenant's change back: every process on the
 * machine was busy with the import's rows. A tenant alone is never paced, so an import alone
 * drains at full speed. The rate may change from one call to the next (`createConsumerPace`).
 */
export function createTenantPacer(rate: () => number, batchSize: number, now: () => number = () => performance.now()) {
  /** The rate now, read once per call, and the burst it allows. */
  function pace(): { perSecond: number; burst: number } {
    const perSecond = rate();
    return { perSecond, burst: Math.max(1, Math.min(batchSize, Math.floor(perSecond * BURST_SECONDS))) };
  }
  const buckets = new Map<string, { tokens: number; at: number }>();
  const lastClaimed = new Map<string, number>();

  /**
   * Forgets the tenants without a row claimed within the sharing window. The ones left share
   * the relay when they are more than one: each of them then has another beside it.
   */
  function sharing(at: number): boolean {
    // forEach, not for…of: the entries a for…of destructured here were a sixteenth of all the
    // relay allocated at 2,000 events/s over a hundred tenants (a heap sampling of relay:bench).
    lastClaimed.forEach((claimedAt, tenant) => {
      if (at - claimedAt > SHARING_WINDOW_MS) lastClaimed.delete(tenant);
    });
    return lastClaimed.size > 1;
  }

  function tokens(tenant: string, at: number, { perSecond, burst }: ReturnType<typeof pace>): number {
    const bucket = buckets.get(tenant);
    if (!bucket) return burst;
    const refilled = Math.min(burst, bucket.tokens + ((at - bucket.at) * perSecond) / 1000);
    if (refilled >= burst) buckets.delete(tenant);
    return refilled;
  }

  return {
    /** Rows each paced tenant may be claimed now; a tenant not named may take its share. */
    quota(): Map<string, number> {
      const at = now();
      const quota = new Map<string, number>();
      if (!sharing(at)) return quota;
      const current = pace();
      for (const tenant of lastClaimed.keys()) quota.set(tenant, Math.max(0, Math.floor(tokens(tenant, at, current))));
      return quota;
    },
    /** Counts a claim's rows against their tenants' buckets. */
    claimed(rows: readonly TenantRow[]): void {
      const at = now();
      const counts = rowsPerTenant(rows);
      counts.forEach((_, tenant) => lastClaimed.set(tenant, at));
      if (!sharing(at)) return;
      const current = pace();
      // A bucket is updated in place, and entries are visited by forEach: a new bucket and a
      // destructured entry per tenant per claim were a fortieth of all the relay allocated.
      counts.forEach((count, tenant) => {
        const left = Math.max(-current.burst, tokens(tenant, at, current) - count);
        const bucket = buckets.get(tenant);
        if (!bucket) buckets.set(tenant, { tokens: left, at });
        else {
          bucket.tokens = left;
          bucket.at = at;
        }
      });
    },
    /** Milliseconds until the first of `tenants` has a full burst again: how long to wait for a paced batch. */
    refillMs(tenants: Iterable<string>): number {
      const at = now();
      const current = pace();
      let wait = Infinity;
      for (const tenant of tenants) wait = Math.min(wait, ((current.burst - tokens(tenant, at, current)) * 1000) / current.perSecond);
      return Number.isFinite(wait) ? Math.max(0, wait) : 0;
    },
  };
}

export type TenantPacer = ReturnType<typeof createTenantPacer>;

/** How many of `rows` each tenant has (rows without a tenant are not counted). */
export function rowsPerTenant(rows: readonly TenantRow[]): Map<string, number> {
  const counts = new Map<string, number>();
  for (const row of rows) if (row.org_id) counts.set(row.org_id, (counts.get(row.org_id) ?? 0) + 1);
  return counts;
}
