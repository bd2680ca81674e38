import { sql } from 'kysely';
import { afterAll, describe, expect, it, inject } from 'vitest';
import { createRelayDatabase } from '../src/relay-database.ts';

const infra = inject('infra');

describe('relay database', () => {
  const db = createRelayDatabase(infra.relayAppUrl, 'relay-database-test');
  afterAll(() => db.destroy());

  it("commits the relay's own transactions without waiting for the WAL flush, and plans each statement afresh", async () => {
    const { rows } = await sql<{ synchronous_commit: string; plan_cache_mode: string }>`
      SELECT current_setting('synchronous_commit') AS synchronous_commit, current_setting('plan_cache_mode') AS plan_cache_mode`.execute(db);
    expect(rows).toEqual([{ synchronous_commit: 'off', plan_cache_mode: 'force_custom_plan' }]);
  });
});
