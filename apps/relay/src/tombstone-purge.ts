import { sql, type Kysely } from 'kysely';
import type { Logger } from 'pino';
import type { SourceDatabase } from '@tenant-sync/db';

/**
 * Deletes, across tenants, up to `limit` tombstones older than `retentionMs`; returns how many.
 * After that a deleted id is answered 404 like one that never existed: a consumer that had not
 * applied the deletion by then drops its copy at its next reconciliation (docs/consumer.md).
 */
export async function purgeTombstones(db: Kysely<SourceDatabase>, retentionMs: number, limit = 10_000): Promise<number> {
  const result = await sql`
    DELETE FROM tombstones
     WHERE ctid = ANY (ARRAY(
       SELECT ctid FROM tombstones
        WHERE deleted_at < clock_timestamp() - make_interval(secs => ${retentionMs / 1000})
        ORDER BY deleted_at
        LIMIT ${limit}))`.execute(db);
  return Number(result.numAffectedRows ?? 0n);
}

/**
 * Purges expired tombstones every `intervalMs` (the first run at once), in chunks so no
 * statement holds many locks; several relays may run it, a row is deleted once.
 */
export function scheduleTombstonePurge({
  db,
  retentionMs,
  intervalMs,
  logger,
  onPurged,
}: {
  db: Kysely<SourceDatabase>;
  retentionMs: number;
  intervalMs: number;
  logger: Logger;
  onPurged?: (count: number) => void;
}) {
  let timer: NodeJS.Timeout | undefined;
  let running: Promise<void> | undefined;
  let stopped = false;
  const run = async () => {
    let purged = 0;
    for (let chunk = -1; chunk !== 0 && !stopped; purged += chunk) chunk = await purgeTombstones(db, retentionMs);
    if (purged > 0) logger.info({ purged, retentionMs }, 'expired tombstones purged');
    onPurged?.(purged);
  };
  const tick = () => {
    running = run()
      .catch((error: unknown) => logger.warn({ err: error }, 'tombstone purge failed; it runs again at the next interval'))
      .finally(() => {
        running = undefined;
        if (!stopped) timer = setTimeout(tick, intervalMs).unref();
      });
  };
  tick();
  return {
    async stop(): Promise<void> {
      stopped = true;
      clearTimeout(timer);
      await running;
    },
  };
}
