import { setTimeout as sleep } from 'node:timers/promises';
import type postgres from 'postgres';
import type { OutboxRow } from '@tenant-sync/db';
import type { BatchProducer } from '@tenant-sync/kafka';
import { toMessage } from '../src/event.ts';

/**
 * The relay everyone writes first: every 500 ms, select 50 rows, send them one `send` at a
 * time, delete them. Runs for `seconds` over whatever backlog there is; returns events/s.
 */
export async function naiveRelay(admin: postgres.Sql, producer: BatchProducer, topic: string, seconds: number): Promise<number> {
  const started = performance.now();
  let published = 0;
  while (performance.now() - started < seconds * 1000) {
    const rows = await admin<OutboxRow[]>`SELECT * FROM outbox ORDER BY id LIMIT 50`;
    for (const row of rows) {
      const message = toMessage(row);
      if (message.ok) await producer.send([{ topic, key: message.key, value: message.value, headers: message.headers }]);
      await admin`DELETE FROM outbox WHERE id = ${row.id}`;
      published += 1;
    }
    await sleep(500);
  }
  return published / ((performance.now() - started) / 1000);
}
