import { createDatabase, type SourceDatabase } from '@tenant-sync/db';

/**
 * The relay's pool, with settings that keep the claim on its index whatever the outbox's
 * statistics say. The outbox swings from empty to hundreds of thousands of rows in seconds:
 * - a generic plan, cached after five runs of a prepared statement while the table was empty,
 *   turned the claim into a scan of the whole table per row once it was full, so every
 *   statement is planned for the table as it is (planning costs well under a millisecond);
 * - with no statistics yet (a table never analysed), the default random_page_cost made a
 *   bitmap scan and sort of every pending row look cheaper than reading the first N rows of
 *   the id index; 1.1 is the usual value for SSDs and keeps the ordered index scan.
 * And its own transactions (claim, delete, release, park, purge) commit without waiting for
 * the WAL flush (`synchronous_commit = off`): a crash of PostgreSQL can lose the last few
 * hundred milliseconds of them, which at-least-once absorbs — a lost claim or release only
 * frees rows, a lost delete only publishes them again (docs/relay.md, "Commits without an
 * fsync"). The writes of the source itself keep their fsync.
 */
export function createRelayDatabase(url: string, applicationName = 'relay') {
  return createDatabase<SourceDatabase>({
    url,
    // A claim beside the deletes of the batches in flight (`BATCHES_IN_FLIGHT`), never queued behind them.
    poolSize: 3,
    applicationName,
    settings: { plan_cache_mode: 'force_custom_plan', random_page_cost: '1.1', synchronous_commit: 'off' },
  });
}
