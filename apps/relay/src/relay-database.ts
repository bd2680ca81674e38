import { createDatabase, type SourceDatabase } from '@tenant-sync/db';

/**
 * The relay's pool. The outbox swings from empty to hundreds of thousands of rows in seconds,
 * so a cached generic plan (PostgreSQL builds one after five runs of a prepared statement)
 * made while it was empty can turn the claim into a scan of the whole table per row; every
 * claim is planned for the table as it is now instead. Planning costs well under a
 * millisecond next to a batch.
 */
export function createRelayDatabase(url: string, applicationName = 'relay') {
  return createDatabase<SourceDatabase>({ url, poolSize: 2, applicationName, settings: { plan_cache_mode: 'force_custom_plan' } });
}
