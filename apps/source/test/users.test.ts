import postgres from 'postgres';
import { afterAll, beforeAll, beforeEach, describe, expect, it, inject } from 'vitest';
import { mintToken, testTenants } from '@tenant-sync/testing';
import { buildSource } from './build-source.ts';

const infra = inject('infra');
const { a, b, suspended } = testTenants;

describe('public users API', () => {
  let source: Awaited<ReturnType<typeof buildSource>>;
  const admin = postgres(infra.sourceAdminUrl, { max: 1, onnotice: () => {} });
  let adminA: string;
  let adminB: string;

  beforeAll(async () => {
    source = await buildSource(infra);
    adminA = await mintToken({ orgId: a.id, subject: a.admin });
    adminB = await mintToken({ orgId: b.id, subject: b.admin });
  });
  beforeEach(async () => {
    await admin`DELETE FROM users`;
    await admin`DELETE FROM outbox`;
  });
  afterAll(async () => {
    await source.close();
    await admin.end();
  });

  const call = (method: 'GET' | 'POST' | 'PATCH' | 'DELETE', url: string, token?: string, payload?: object, headers: Record<string, string> = {}) =>
    source.publicServer.inject({
      method,
      url,
      headers: { ...(token ? { authorization: `Bearer ${token}` } : {}), ...headers },
      ...(payload ? { payload } : {}),
    });

  const snapshot = async () => ({
    users: await admin`SELECT id, org_id, name, email, version FROM users ORDER BY id`,
    outbox: await admin`SELECT aggregate_id, action, version FROM outbox ORDER BY id`,
  });

  it('creates a user and its outbox row in the same transaction, with references only', async () => {
    const response = await call('POST', '/users', adminA, { name: 'Ann', email: 'ann@a.test', phone: '+44 20 7946 0000' });
    expect(response.statusCode).toBe(201);
    const user = response.json();
    expect(user).toMatchObject({ orgId: a.id, name: 'Ann', email: 'ann@a.test', version: 1 });
    const outbox = await admin`SELECT *, version::int AS version FROM outbox`;
    expect(outbox).toHaveLength(1);
    expect(outbox[0]).toMatchObject({ org_id: a.id, aggregate_type: 'USER', aggregate_id: user.id, action: 'CREATED', version: 1 });
    expect(JSON.stringify(outbox[0])).not.toMatch(/Ann|ann@a\.test|7946/);
  });

  it('bumps the version and writes an outbox row on every change', async () => {
    const { id } = (await call('POST', '/users', adminA, { name: 'Ann', email: 'ann@a.test' })).json();
    const patched = await call('PATCH', `/users/${id}`, adminA, { name: 'Anne' });
    expect(patched.statusCode).toBe(200);
    expect(patched.json()).toMatchObject({ name: 'Anne', version: 2 });
    expect((await call('DELETE', `/users/${id}`, adminA)).statusCode).toBe(204);
    expect((await call('GET', `/users/${id}`, adminA)).statusCode).toBe(404);
    const actions = await admin`SELECT action, version FROM outbox ORDER BY id`;
    expect(actions.map((row) => `${row.action}:${row.version}`)).toEqual(['CREATED:1', 'UPDATED:2', 'DELETED:3']);
  });

  it('lists only the caller tenant, page by page', async () => {
    for (const n of [1, 2, 3]) await call('POST', '/users', adminA, { name: `A${n}`, email: `a${n}@a.test` });
    await call('POST', '/users', adminB, { name: 'B1', email: 'b1@b.test' });
    const first = (await call('GET', '/users?limit=2', adminA)).json();
    expect(first.items.map((user: { name: string }) => user.name)).toEqual(['A1', 'A2']);
    const second = (await call('GET', `/users?limit=2&cursor=${first.nextCursor}`, adminA)).json();
    expect(second).toMatchObject({ items: [{ name: 'A3' }], nextCursor: null });
    const listB = (await call('GET', '/users', adminB)).json();
    expect(listB.items.map((user: { orgId: string }) => user.orgId)).toEqual([b.id]);
  });

  it('treats another tenant user id as not found, for read, change and delete alike', async () => {
    const { id } = (await call('POST', '/users', adminA, { name: 'Ann', email: 'ann@a.test' })).json();
    const before = await snapshot();
    for (const [method, payload] of [['GET'], ['PATCH', { name: 'Mallory' }], ['DELETE']] as const) {
      const response = await call(method, `/users/${id}`, adminB, payload);
      expect(response.statusCode).toBe(404);
      expect(response.json()).toEqual({ statusCode: 404, code: 'SRC_USER_NOT_FOUND', error: 'Not Found', message: 'user not found' });
    }
    expect(await snapshot()).toEqual(before);
  });

  it('answers 409 for a duplicate email within a tenant, but not across tenants', async () => {
    expect((await call('POST', '/users', adminA, { name: 'Ann', email: 'ann@x.test' })).statusCode).toBe(201);
    expect((await call('POST', '/users', adminA, { name: 'Ann 2', email: 'ANN@x.test' })).statusCode).toBe(409);
    expect((await call('POST', '/users', adminB, { name: 'Ann', email: 'ann@x.test' })).statusCode).toBe(201);
  });

  describe('refuses and changes nothing', () => {
    it.each([
      ['no token', undefined, {}],
      ['a malformed token', 'not.a.jwt', {}],
      ['X-Tenant-ID naming another tenant', 'adminA', { 'x-tenant-id': b.id }],
      ['X-Tenant-ID with SQL in it', 'adminA', { 'x-tenant-id': "' OR 1=1 --" }],
    ])('401 for %s', async (_name, token, headers) => {
      const before = await snapshot();
      const response = await call('POST', '/users', token === 'adminA' ? adminA : token, { name: 'Eve', email: 'eve@a.test' }, headers);
      expect(response.statusCode).toBe(401);
      expect(response.json()).toEqual({ statusCode: 401, code: 'AUTH_UNAUTHORIZED', error: 'Unauthorized', message: 'invalid or missing credentials' });
      expect(await snapshot()).toEqual(before);
    });

    it('401 for a suspended organisation and for a subject that is not a member', async () => {
      const suspendedToken = await mintToken({ orgId: suspended.id, subject: suspended.admin });
      const strangerToken = await mintToken({ orgId: a.id, subject: 'stranger' });
      const memberOfB = await mintToken({ orgId: a.id, subject: b.admin });
      for (const token of [suspendedToken, strangerToken, memberOfB]) {
        expect((await call('GET', '/users', token)).statusCode).toBe(401);
        expect((await call('POST', '/users', token, { name: 'Eve', email: 'eve@a.test' })).statusCode).toBe(401);
      }
      expect((await snapshot()).users).toEqual([]);
    });

    it('403 when a member (not an admin) tries to write', async () => {
      const memberToken = await mintToken({ orgId: a.id, subject: a.member, role: 'tenant_admin' });
      expect((await call('GET', '/users', memberToken)).statusCode).toBe(200);
      expect((await call('POST', '/users', memberToken, { name: 'Eve', email: 'eve@a.test' })).statusCode).toBe(403);
      expect((await snapshot()).users).toEqual([]);
    });

    it.each([
      ['a body naming another orgId', { name: 'Eve', email: 'eve@a.test', orgId: 'b' }, 'HTTP_INVALID_INPUT'],
      // Refused by the JSON parser itself, before any schema: Fastify's own code.
      ['a __proto__ key', JSON.parse('{"name":"Eve","email":"eve@a.test","__proto__":{"admin":true}}'), 'FST_ERR_CTP_INVALID_JSON_BODY'],
      ['a constructor key', { name: 'Eve', email: 'eve@a.test', constructor: { prototype: { admin: true } } }, 'FST_ERR_CTP_INVALID_JSON_BODY'],
      ['an invalid email', { name: 'Eve', email: 'not-an-email' }, 'HTTP_INVALID_INPUT'],
      ['a missing name', { email: 'eve@a.test' }, 'HTTP_INVALID_INPUT'],
    ])('400 for %s', async (_name, payload, code) => {
      const response = await call('POST', '/users', adminA, payload);
      expect(response.statusCode).toBe(400);
      expect(response.json()).toMatchObject({ statusCode: 400, code, error: 'Bad Request' });
      expect((await snapshot()).users).toEqual([]);
    });

    it('400 for a user id that is not a UUID, SQL or not', async () => {
      for (const id of ['42', "1' OR '1'='1", '00000000-0000-0000-0000-00000000000Z']) {
        expect((await call('GET', `/users/${encodeURIComponent(id)}`, adminA)).statusCode).toBe(400);
      }
    });

    it('413 for an oversized body and 415 for a wrong content type', async () => {
      const big = await source.publicServer.inject({
        method: 'POST',
        url: '/users',
        headers: { authorization: `Bearer ${adminA}`, 'content-type': 'application/json' },
        payload: JSON.stringify({ name: 'x'.repeat(100_000), email: 'eve@a.test' }),
      });
      expect(big.statusCode).toBe(413);
      const text = await source.publicServer.inject({
        method: 'POST',
        url: '/users',
        headers: { authorization: `Bearer ${adminA}`, 'content-type': 'text/plain' },
        payload: 'name=Eve',
      });
      expect(text.statusCode).toBe(415);
      expect((await snapshot()).users).toEqual([]);
    });
  });

  it('does not serve internal routes on the public listener', async () => {
    const response = await call('GET', `/internal/sync/user/${a.id}`, adminA, undefined, { 'x-consumer-id': 'consumer', 'x-tenant-id': a.id });
    expect(response.statusCode).toBe(404);
  });

  it('answers health without a token', async () => {
    expect((await call('GET', '/health/live')).statusCode).toBe(200);
    expect((await call('GET', '/health/ready')).statusCode).toBe(200);
  });
});
