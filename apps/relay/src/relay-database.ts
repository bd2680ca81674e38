import { createDatabase, type SourceDatabase } from '@tenant-sync/db';

/**
 * The relay's pool, with settings that keep the claim on its index whatever the outbox's
 * statistics say. The outbox swings from empty to hundreds of thousands of rows in seconds:
 * - a generic plan, cached after five runs of a prepared statement while the table was empty,
 *   turned the claim into a scan of the whole table per row once it was full, so every
 *   statement is planned for the table as it is (planning costs well under a millisecond);
 * - no bitmap scans: with no statistics yet (a table never analysed) a bitmap scan and sort
 *   of every pending row looked cheaper than reading the first N rows of the id index. A
 *   bitmap scan cannot stop at the LIMIT and visits the heap page of every index entry, dead
 *   or alive: with 170,000 deleted rows not yet vacuumed (a drained import, autovacuum behind
 *   or off) one claim of 50 rows read 4,200 heap pages and took 35 ms. The ordered index
 *   scan marks the dead entries it passes (`LP_DEAD`), so the next claims skip them: 3 ms.
 *   `random_page_cost = 1.1`, the usual value for SSDs, was not enough to keep that plan.
 * And its own transactions (claim, delete, release, park, purge) commit without waiting for
 * the WAL flush (`synchronous_commit = off`): a crash of PostgreSQL can lose the last few
 * hundred milliseconds of them, which at-least-once absorbs — a lost claim or release only
 * frees rows, a lost delete only publishes them again (docs/relay.md, "Commits without an
 * fsync"). The writes of the source itself keep their fsync.
 */
export function createRelayDatabase(url: string, applicationName = 'relay') {
  return createDatabase<SourceDatabase>({
    url,
    // A claim and an express claim beside the deletes of the batches in flight
    // (`BATCHES_IN_FLIGHT`), never queued behind them.
    poolSize: 4,
    applicationName,
    settings: { plan_cache_mode: 'force_custom_plan', enable_bitmapscan: 'off', random_page_cost: '1.1', synchronous_commit: 'off' },
  });
}
