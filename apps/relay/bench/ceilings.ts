import type { Kysely } from 'kysely';
import type postgres from 'postgres';
import type { SourceDatabase } from '@tenant-sync/db';
import type { BatchProducer } from '@tenant-sync/kafka';
import { toMessage } from '../src/event.ts';
import { createClaimer, deletePublished, type ClaimedRow } from '../src/outbox.ts';
import { claimedRow } from '../test/claimed-row.ts';
import { prefillOutbox } from './outbox-load.ts';

/**
 * The producer alone: the relay's messages for `count` synthetic rows, sent in batches of
 * `batchSize` the way the relay sends them, with no database. Returns events/s.
 */
export async function producerCeiling(producer: BatchProducer, topic: string, count: number, batchSize: number): Promise<number> {
  const rows = Array.from({ length: count }, (_, n) => claimedRow({ id: n + 1, org_id: `00000000-0000-0000-0000-${String(n % 100).padStart(12, '0')}` }));
  const started = performance.now();
  for (let start = 0; start < rows.length; start += batchSize) {
    const messages = rows.slice(start, start + batchSize).map((row) => {
      const message = toMessage(row);
      if (!message.ok) throw new Error(message.reason);
      return { topic, key: message.key, value: message.value, headers: message.headers };
    });
    await producer.send(messages);
  }
  return count / ((performance.now() - started) / 1000);
}

/**
 * The database alone: claim and delete `count` prefilled rows with no Kafka, claiming the way
 * the relay does. Returns rows/s.
 */
export async function claimAndDeleteCeiling(admin: postgres.Sql, relayDb: Kysely<SourceDatabase>, count: number, batchSize: number): Promise<number> {
  await prefillOutbox(admin, count);
  const claimer = createClaimer(relayDb, 'ceiling', batchSize, 30_000);
  const started = performance.now();
  let done = 0;
  let last: ClaimedRow[] | undefined;
  for (;;) {
    const rows = await claimer.next(last);
    if (rows.length === 0 && last === undefined) break;
    last = rows.length > 0 ? rows : undefined;
    await deletePublished(relayDb, 'ceiling', rows.map((row) => Number(row.id)));
    done += rows.length;
  }
  if (done !== count) throw new Error(`claimed ${done} of ${count} rows`);
  return count / ((performance.now() - started) / 1000);
}
