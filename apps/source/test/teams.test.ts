import { readFileSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import postgres from 'postgres';
import { Agent, request } from 'undici';
import { afterAll, beforeAll, beforeEach, describe, expect, it, inject } from 'vitest';
import { certsDir, mintToken, testTenants } from '@tenant-sync/testing';
import { buildSource } from './build-source.ts';

const infra = inject('infra');
const { a, b } = testTenants;
const read = (name: string) => readFileSync(path.join(certsDir, name));

/** Teams, the second synced type: the public API of :8001 and the Reference API of :8441. */
describe('teams', () => {
  let source: Awaited<ReturnType<typeof buildSource>>;
  let internalUrl: string;
  const admin = postgres(infra.sourceAdminUrl, { max: 1, onnotice: () => {} });
  const consumerAgent = new Agent({ connect: { ca: read('ca.crt'), cert: read('consumer-client.crt'), key: read('consumer-client.key') } });
  let adminA: string;
  let adminB: string;
  let memberA: string;

  beforeAll(async () => {
    source = await buildSource(infra);
    await source.internalServer.listen({ host: '127.0.0.1', port: 0 });
    internalUrl = `https://localhost:${(source.internalServer.server.address() as AddressInfo).port}`;
    [adminA, adminB, memberA] = await Promise.all([
      mintToken({ orgId: a.id, subject: a.admin }),
      mintToken({ orgId: b.id, subject: b.admin }),
      mintToken({ orgId: a.id, subject: a.member, role: 'member' }),
    ]);
  });
  beforeEach(async () => {
    await admin`DELETE FROM teams`;
    await admin`DELETE FROM tombstones WHERE entity_type = 'TEAM'`;
  });
  afterAll(async () => {
    await source.close();
    await consumerAgent.close();
    await admin.end();
  });

  const call = (method: 'GET' | 'POST' | 'PATCH' | 'DELETE', url: string, token: string, payload?: object) =>
    source.publicServer.inject({ method, url, headers: { authorization: `Bearer ${token}` }, ...(payload ? { payload } : {}) });
  const reference = async (tenant: string, url: string, body?: object) => {
    const response = await request(`${internalUrl}${url}`, {
      method: body ? 'POST' : 'GET',
      dispatcher: consumerAgent,
      headers: { 'x-consumer-id': 'consumer', 'x-tenant-id': tenant, ...(body ? { 'content-type': 'application/json' } : {}) },
      body: body ? JSON.stringify(body) : null,
    });
    return { status: response.statusCode, body: (await response.body.json()) as Record<string, unknown> };
  };
  const rows = () => admin`SELECT org_id, name, description, version::int AS version FROM teams ORDER BY org_id, name`;

  it('creates, lists, changes and deletes a team of the caller tenant, its version growing by one', async () => {
    const created = await call('POST', '/teams', adminA, { name: 'Platform', description: 'The platform team' });
    expect(created.statusCode).toBe(201);
    const team = created.json();
    expect(team).toMatchObject({ orgId: a.id, name: 'Platform', description: 'The platform team', version: 1 });
    expect((await call('GET', '/teams', adminA)).json()).toEqual({ items: [team], nextCursor: null });
    const patched = await call('PATCH', `/teams/${team.id}`, adminA, { description: null });
    expect(patched.json()).toMatchObject({ description: null, version: 2 });
    expect((await call('DELETE', `/teams/${team.id}`, adminA)).statusCode).toBe(204);
    expect((await call('GET', `/teams/${team.id}`, adminA)).json()).toMatchObject({ statusCode: 404, code: 'SRC_TEAM_NOT_FOUND' });
    expect(await admin`SELECT entity_type, version::int AS version FROM tombstones WHERE id = ${team.id}`).toEqual([{ entity_type: 'TEAM', version: 3 }]);
  });

  it('keeps names unique per tenant ignoring case, and tenants apart', async () => {
    expect((await call('POST', '/teams', adminA, { name: 'Ops' })).statusCode).toBe(201);
    expect((await call('POST', '/teams', adminA, { name: 'OPS' })).json()).toMatchObject({ statusCode: 409, code: 'SRC_DUPLICATE_TEAM_NAME' });
    // The same name in another tenant is another team, and neither tenant sees the other's.
    const teamOfB = (await call('POST', '/teams', adminB, { name: 'ops' })).json();
    expect((await call('GET', `/teams/${teamOfB.id}`, adminA)).statusCode).toBe(404);
    expect((await call('PATCH', `/teams/${teamOfB.id}`, adminA, { name: 'Stolen' })).statusCode).toBe(404);
    expect((await call('DELETE', `/teams/${teamOfB.id}`, adminA)).statusCode).toBe(404);
    expect((await call('GET', '/teams', adminA)).json().items.map((team: { name: string }) => team.name)).toEqual(['Ops']);
    expect(await rows()).toEqual([
      { org_id: a.id, name: 'Ops', description: null, version: 1 },
      { org_id: b.id, name: 'ops', description: null, version: 1 },
    ]);
  });

  it.each([
    ['a member (writes need tenant_admin)', () => memberA, { name: 'X' }, 403],
    ['a name of 201 characters', () => adminA, { name: 'x'.repeat(201) }, 400],
    ['an empty name', () => adminA, { name: '' }, 400],
    ['a description of 2,001 characters', () => adminA, { name: 'Long', description: 'd'.repeat(2001) }, 400],
    ['a NUL in the name', () => adminA, { name: 'a\u0000b' }, 400],
    ['a name that is not text', () => adminA, { name: 123 }, 400],
    ['an org id in the body', () => adminA, { name: 'X', orgId: b.id }, 400],
  ])('refuses %s, and writes nothing', async (_name, token, payload, status) => {
    expect((await call('POST', '/teams', token(), payload)).statusCode).toBe(status);
    expect(await rows()).toEqual([]);
  });

  it('serves teams on the Reference API: live, deleted (410 and `deleted`), listing, another tenant a 404', async () => {
    const live = (await call('POST', '/teams', adminA, { name: 'Live' })).json();
    const gone = (await call('POST', '/teams', adminA, { name: 'Gone' })).json();
    await call('DELETE', `/teams/${gone.id}`, adminA);
    expect(await reference(a.id, `/internal/sync/team/${live.id}`)).toMatchObject({ status: 200, body: { data: { id: live.id, name: 'Live' } } });
    expect(await reference(a.id, `/internal/sync/team/${gone.id}`)).toMatchObject({ status: 410, body: { id: gone.id, version: 2 } });
    expect((await reference(b.id, `/internal/sync/team/${live.id}`)).status).toBe(404);
    expect(await reference(a.id, '/internal/sync/team/batch', { ids: [live.id, gone.id] })).toMatchObject({
      status: 200,
      body: { data: [{ id: live.id }], deleted: [{ id: gone.id, version: 2 }], missing: [] },
    });
    const listing = await reference(a.id, '/internal/sync/team');
    expect((listing.body.items as Array<{ id: string; deleted: boolean }>).map(({ id, deleted }) => ({ id, deleted })).sort((x, y) => x.id.localeCompare(y.id))).toEqual(
      [
        { id: live.id, deleted: false },
        { id: gone.id, deleted: true },
      ].sort((x, y) => x.id.localeCompare(y.id)),
    );
    expect((await reference(a.id, `/internal/sync/order/${live.id}`)).status).toBe(404);
  });
});
