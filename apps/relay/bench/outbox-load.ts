import { setTimeout as sleep } from 'node:timers/promises';
import type postgres from 'postgres';

/** The org id of bench tenant `n` (0-99): valid UUIDs, spread over 100 tenants. */
const benchTenant = (n: string) => `('00000000-0000-0000-0000-' || lpad((${n} % 100)::text, 12, '0'))::uuid`;

/**
 * Writes `rows` pending outbox rows in one transaction, over 100 tenants. Entities get two
 * events each (rows n and n + rows/2), so the per-entity ordering of the claim is exercised.
 */
export async function prefillOutbox(admin: postgres.Sql, rows: number): Promise<void> {
  const entities = Math.ceil(rows / 2);
  await admin.unsafe(`
    INSERT INTO outbox (org_id, aggregate_type, aggregate_id, action, version)
    SELECT ${benchTenant('n')}, 'USER',
           md5('bench-entity-' || (n % ${entities}))::uuid,
           CASE WHEN n < ${entities} THEN 'CREATED' ELSE 'UPDATED' END,
           CASE WHEN n < ${entities} THEN 1 ELSE 2 END
      FROM generate_series(0, ${rows - 1}) n`);
}

/** Resolves when no pending row is left; returns the milliseconds it took from `since`. */
export async function waitUntilDrained(admin: postgres.Sql, since: number, timeoutMs: number): Promise<number> {
  const deadline = since + timeoutMs;
  for (;;) {
    const [row] = await admin`SELECT EXISTS (SELECT 1 FROM outbox WHERE parked_at IS NULL) AS pending`;
    if (!row?.pending) return performance.now() - since;
    if (performance.now() > deadline) throw new Error(`outbox not drained after ${timeoutMs} ms`);
    await sleep(20);
  }
}

export interface OfferedLoad {
  /** Commit time (epoch ms, taken when COMMIT returned) of every event, by event id. */
  committedAt: Map<string, number>;
  /** Commit time of every transaction, in commit order. */
  commits: number[];
  offered: number;
  elapsedMs: number;
}

/**
 * Offers `ratePerSecond` outbox events for `seconds`, as small transactions of about
 * `rowsPerCommit` rows, keeping to the rate by catching up on the schedule rather than
 * sleeping a fixed interval. Records each event's commit time for latency measurements.
 * Each event is a new entity, named after `tag` and its sequence number.
 */
export async function offerLoad(admin: postgres.Sql, ratePerSecond: number, seconds: number, tag = 'steady', rowsPerCommit = 10): Promise<OfferedLoad> {
  const committedAt = new Map<string, number>();
  const commits: number[] = [];
  const started = performance.now();
  const total = ratePerSecond * seconds;
  let offered = 0;
  let sequence = 0;
  while (offered < total) {
    const due = Math.min(total, Math.floor(((performance.now() - started) / 1000) * ratePerSecond));
    if (due - offered < rowsPerCommit && due < total) {
      await sleep(1);
      continue;
    }
    const count = Math.min(due - offered, rowsPerCommit * 4);
    const first = sequence;
    sequence += count;
    const rows = await admin.unsafe<{ event_id: string }[]>(`
      INSERT INTO outbox (org_id, aggregate_type, aggregate_id, action, version)
      SELECT ${benchTenant('n')}, 'USER', md5('${tag}-' || n)::uuid, 'CREATED', 1
        FROM generate_series(${first}, ${first + count - 1}) n
      RETURNING event_id`);
    const now = Date.now();
    for (const row of rows) committedAt.set(row.event_id, now);
    commits.push(now);
    offered += count;
  }
  return { committedAt, commits, offered, elapsedMs: performance.now() - started };
}
