import { randomUUID } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import pino from 'pino';
import postgres from 'postgres';
import { afterAll, describe, expect, it, inject } from 'vitest';
import { testTenants } from '@tenant-sync/testing';
import { listenForOutboxCommits } from '../src/outbox-listener.ts';

const infra = inject('infra');
const { a } = testTenants;

describe('outbox commit notifications', () => {
  const admin = postgres(infra.sourceAdminUrl, { max: 1, onnotice: () => {} });
  const app = postgres(infra.sourceAppUrl, { max: 1, onnotice: () => {} });
  afterAll(async () => {
    await app.end();
    await admin.end();
  });

  it("name the tenant when row-level security checked the commit's rows, and none for a role that bypasses it", async () => {
    const wakes: Array<string | undefined> = [];
    const listener = await listenForOutboxCommits({ url: infra.relayAppUrl, logger: pino({ level: 'silent' }), onWake: (tenant) => wakes.push(tenant) });
    try {
      // The wake-up of the connect: notifications may have been missed before it.
      expect(wakes).toEqual([undefined]);
      // As the source app writes: source_app, its tenant set for the transaction.
      await app.begin(async (tx) => {
        await tx`SELECT set_config('app.current_tenant', ${a.id.toUpperCase()}, true)`;
        await tx`INSERT INTO users (org_id, name, email) VALUES (${a.id}, 'Named', ${`named-${randomUUID()}@notify.test`})`;
      });
      // As a migration might: a superuser, past row-level security, any tenant's rows.
      await admin`INSERT INTO users (org_id, name, email) VALUES (${a.id}, 'Unnamed', ${`unnamed-${randomUUID()}@notify.test`})`;
      for (let waited = 0; wakes.length < 3 && waited < 5_000; waited += 20) await sleep(20);
      expect(wakes).toEqual([undefined, a.id, undefined]);
    } finally {
      await listener.close();
    }
  });
});
