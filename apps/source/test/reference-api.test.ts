import { readFileSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import postgres from 'postgres';
import { Agent, request } from 'undici';
import { afterAll, beforeAll, describe, expect, it, inject } from 'vitest';
import { certsDir, testTenants } from '@tenant-sync/testing';
import { buildSource } from './build-source.ts';

const infra = inject('infra');
const { a, b, suspended } = testTenants;
const read = (name: string) => readFileSync(path.join(certsDir, name));

describe('Reference API on the mTLS listener', () => {
  let source: Awaited<ReturnType<typeof buildSource>>;
  let baseUrl: string;
  let userOfA: string;
  const admin = postgres(infra.sourceAdminUrl, { max: 1, onnotice: () => {} });
  const consumerAgent = new Agent({ connect: { ca: read('ca.crt'), cert: read('consumer-client.crt'), key: read('consumer-client.key') } });
  const anonymousAgent = new Agent({ connect: { ca: read('ca.crt') } });

  beforeAll(async () => {
    source = await buildSource(infra);
    await source.internalServer.listen({ host: '127.0.0.1', port: 0 });
    baseUrl = `https://localhost:${(source.internalServer.server.address() as AddressInfo).port}`;
    await admin`DELETE FROM users`;
    await admin`DELETE FROM tombstones`;
    [{ id: userOfA }] = await admin`INSERT INTO users (org_id, name, email) VALUES (${a.id}, 'Ann', 'ann@a.test') RETURNING id`;
  });
  afterAll(async () => {
    await source.close();
    await admin.end();
    await consumerAgent.close();
    await anonymousAgent.close();
  });

  const get = async (url: string, headers: Record<string, string>, dispatcher = consumerAgent) => {
    const response = await request(`${baseUrl}${url}`, { dispatcher, headers });
    return { status: response.statusCode, body: (await response.body.json()) as Record<string, unknown> };
  };
  const asConsumer = (tenant: string) => ({ 'x-consumer-id': 'consumer', 'x-tenant-id': tenant });

  it('serves an entity of the named tenant, with its meta', async () => {
    const { status, body } = await get(`/internal/sync/user/${userOfA}`, asConsumer(a.id));
    expect(status).toBe(200);
    expect(body).toMatchObject({ data: { id: userOfA, orgId: a.id, email: 'ann@a.test' }, _meta: { tenantId: a.id } });
  });

  it('answers 404 for an entity of another tenant: RLS decides what exists', async () => {
    expect((await get(`/internal/sync/user/${userOfA}`, asConsumer(b.id))).status).toBe(404);
  });

  it('fetches many ids of one tenant in one round trip, listing the missing ones', async () => {
    const missing = '5d7a0a36-52c7-4c1d-9b8e-1f9d5cf2f3a0';
    const response = await request(`${baseUrl}/internal/sync/user/batch`, {
      method: 'POST',
      dispatcher: consumerAgent,
      headers: { ...asConsumer(a.id), 'content-type': 'application/json' },
      body: JSON.stringify({ ids: [userOfA, missing] }),
    });
    expect(response.statusCode).toBe(200);
    const body = (await response.body.json()) as { data: { id: string }[]; deleted: unknown[]; missing: string[] };
    expect(body.data.map((user) => user.id)).toEqual([userOfA]);
    expect(body.deleted).toEqual([]);
    expect(body.missing).toEqual([missing]);
  });

  it('lists {id, version, deleted} of a tenant for reconciliation, tombstones included, in id order', async () => {
    const gone = (await admin`INSERT INTO users (org_id, name, email) VALUES (${a.id}, 'Gone', 'gone-list@a.test') RETURNING id`)[0]!.id as string;
    await admin`DELETE FROM users WHERE id = ${gone}`;
    const { status, body } = await get('/internal/sync/user', asConsumer(a.id));
    expect(status).toBe(200);
    const expected = [
      { id: userOfA, version: 1, deleted: false },
      { id: gone, version: 2, deleted: true },
    ].sort((x, y) => x.id.localeCompare(y.id));
    expect(body).toEqual({ items: expected, nextCursor: null });
    const firstPage = await get('/internal/sync/user?limit=1', asConsumer(a.id));
    expect(firstPage.body).toEqual({ items: [expected[0]], nextCursor: expected[0]!.id });
    const secondPage = await get(`/internal/sync/user?limit=1&after=${expected[0]!.id}`, asConsumer(a.id));
    expect(secondPage.body).toEqual({ items: [expected[1]], nextCursor: null });
    expect((await get('/internal/sync/user', asConsumer(b.id))).body).toEqual({ items: [], nextCursor: null });
  });

  it('answers a deleted entity with its tombstone: 410 alone, `deleted` in a batch; another tenant still gets 404', async () => {
    const gone = (await admin`INSERT INTO users (org_id, name, email) VALUES (${a.id}, 'Temp', 'temp@a.test') RETURNING id`)[0]!.id as string;
    await admin`UPDATE users SET name = 'Temp 2' WHERE id = ${gone}`;
    await admin`DELETE FROM users WHERE id = ${gone}`;
    const single = await get(`/internal/sync/user/${gone}`, asConsumer(a.id));
    expect(single).toEqual({ status: 410, body: { id: gone, version: 3, deletedAt: expect.any(String) } });
    expect((await get(`/internal/sync/user/${gone}`, asConsumer(b.id))).status).toBe(404);

    const response = await request(`${baseUrl}/internal/sync/user/batch`, {
      method: 'POST',
      dispatcher: consumerAgent,
      headers: { ...asConsumer(a.id), 'content-type': 'application/json' },
      body: JSON.stringify({ ids: [gone, userOfA] }),
    });
    const body = (await response.body.json()) as { data: { id: string }[]; deleted: unknown[]; missing: string[] };
    expect(body.data.map((user) => user.id)).toEqual([userOfA]);
    expect(body.deleted).toEqual([{ id: gone, version: 3 }]);
    expect(body.missing).toEqual([]);
    // The tombstone keeps no personal data.
    const [tombstone] = await admin`SELECT * FROM tombstones WHERE id = ${gone}`;
    expect(Object.keys(tombstone!).sort()).toEqual(['deleted_at', 'entity_type', 'id', 'org_id', 'version']);
  });

  it.each([
    ['X-Consumer-ID that does not match the certificate', { 'x-consumer-id': 'relay', 'x-tenant-id': a.id }, 401],
    ['no X-Consumer-ID', { 'x-tenant-id': a.id }, 401],
    ['no X-Tenant-ID', { 'x-consumer-id': 'consumer' }, 403],
    ['an X-Tenant-ID that is not a UUID', { 'x-consumer-id': 'consumer', 'x-tenant-id': "' OR 1=1 --" }, 403],
    ['a suspended tenant', { 'x-consumer-id': 'consumer', 'x-tenant-id': suspended.id }, 403],
  ])('refuses %s', async (_name, headers, status) => {
    expect((await get(`/internal/sync/user/${userOfA}`, headers)).status).toBe(status);
  });

  it('refuses an organisation the moment it is suspended: the Reference API adds no cache of its own', async () => {
    const org = '33333333-3333-4333-8333-333333333333';
    // The by-id and batch routes read the status in their own transaction, the others before it.
    const statuses = async () => {
      const batch = await request(`${baseUrl}/internal/sync/user/batch`, {
        method: 'POST',
        dispatcher: consumerAgent,
        headers: { ...asConsumer(org), 'content-type': 'application/json' },
        body: JSON.stringify({ ids: [userOfA] }),
      });
      await batch.body.dump();
      return [(await get('/internal/sync/user', asConsumer(org))).status, (await get(`/internal/sync/user/${userOfA}`, asConsumer(org))).status, batch.statusCode];
    };
    await admin`INSERT INTO organizations (id, name) VALUES (${org}, 'Soon suspended') ON CONFLICT (id) DO UPDATE SET status = 'ACTIVE'`;
    try {
      expect(await statuses()).toEqual([200, 404, 200]);
      await admin`UPDATE organizations SET status = 'SUSPENDED' WHERE id = ${org}`;
      expect(await statuses()).toEqual([403, 403, 403]);
    } finally {
      await admin`DELETE FROM organizations WHERE id = ${org}`;
    }
  });

  it('does not complete a handshake without a client certificate', async () => {
    await expect(get(`/internal/sync/user/${userOfA}`, asConsumer(a.id), anonymousAgent)).rejects.toThrow();
  });

  it('does not serve public routes on the internal listener', async () => {
    expect((await get('/users', asConsumer(a.id))).status).toBe(404);
  });
});
