import { readFileSync } from 'node:fs';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import type postgres from 'postgres';
import { Pool } from 'undici';
import { freePort } from '@tenant-sync/local-infra';
import { certsDir, mintToken, startApp, testTenants, type TestInfrastructure } from '@tenant-sync/testing';

const CLIENTS = 16;
const SECONDS = 10;

/**
 * What the NOTIFY trigger costs writers: POST /users against the real source app by
 * `CLIENTS` concurrent clients for `SECONDS`, with the trigger enabled, then disabled.
 * NOTIFY serialises notifying commits on a database-wide lock, so this is where it would show.
 */
export async function writeThroughput(infra: TestInfrastructure, admin: postgres.Sql): Promise<{ withNotify: number; withoutNotify: number }> {
  const port = await freePort();
  const source = await startApp(
    'source',
    { SOURCE_DATABASE_URL: infra.sourceAppUrl, PUBLIC_PORT: String(port), INTERNAL_PORT: String(await freePort()), LOG_LEVEL: 'warn' },
    await freePort(),
  );
  const pool = new Pool(`https://localhost:${port}`, { connections: CLIENTS, connect: { ca: readFileSync(path.join(certsDir, 'ca.crt')) } });
  const token = await mintToken({ orgId: testTenants.a.id, subject: testTenants.a.admin, expiresIn: '10m' });
  try {
    await postUsers(pool, token, 2); // warm up: JIT, connections, membership cache
    const withNotify = await postUsers(pool, token, SECONDS);
    await admin`ALTER TABLE outbox DISABLE TRIGGER outbox_notify`;
    const withoutNotify = await postUsers(pool, token, SECONDS).finally(() => admin`ALTER TABLE outbox ENABLE TRIGGER outbox_notify`);
    await admin`DELETE FROM outbox`;
    return { withNotify, withoutNotify };
  } finally {
    await pool.close();
    await source.stop();
  }
}

async function postUsers(pool: Pool, token: string, seconds: number): Promise<number> {
  const deadline = performance.now() + seconds * 1000;
  let created = 0;
  const client = async (n: number) => {
    for (let i = 0; performance.now() < deadline; i += 1) {
      const response = await pool.request({
        path: '/users',
        method: 'POST',
        headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
        body: JSON.stringify({ name: `Bench ${n}-${i}`, email: `bench-${n}-${i}-${Date.now()}@example.com` }),
      });
      await response.body.dump();
      // 503: the source sheds load on a busy machine; the request was refused, not failed, and
      // only created users count.
      if (response.statusCode === 503) {
        await sleep(10);
        continue;
      }
      if (response.statusCode !== 201) throw new Error(`POST /users answered ${response.statusCode}`);
      created += 1;
    }
  };
  const started = performance.now();
  await Promise.all(Array.from({ length: CLIENTS }, (_, n) => client(n)));
  return created / ((performance.now() - started) / 1000);
}
