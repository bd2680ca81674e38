import postgres from 'postgres';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { mintToken, testTenants } from '@tenant-sync/testing';
import { buildSource } from './build-source.ts';

const infra = inject('infra');
const { a } = testTenants;
const nowS = () => Math.floor(Date.now() / 1000);
const cursorOf = (createdAt: string) => Buffer.from(JSON.stringify([createdAt, '00000000-0000-0000-0000-000000000000'])).toString('base64url');

/**
 * Inputs that each reached a 500 or were accepted on the public listener before: each is now
 * refused as input (400) or as a credential (401), and the database is left as it was.
 */
describe('public listener: hostile input is refused, never a 500', () => {
  let source: Awaited<ReturnType<typeof buildSource>>;
  const admin = postgres(infra.sourceAdminUrl, { max: 1, onnotice: () => {} });
  let token: string;
  let userId: string;

  beforeAll(async () => {
    source = await buildSource(infra);
    token = await mintToken({ orgId: a.id, subject: a.admin });
    const created = await call('POST', '/users', token, { name: 'Hostile Input', email: 'hostile-input@a.test' });
    expect(created.statusCode).toBe(201);
    userId = created.json<{ id: string }>().id;
  });
  afterAll(async () => {
    await admin`DELETE FROM users WHERE id = ${userId}`;
    await admin`DELETE FROM outbox WHERE aggregate_id = ${userId}`;
    await source.close();
    await admin.end();
  });

  function call(method: 'GET' | 'POST' | 'PATCH' | 'DELETE', url: string, bearer: string, payload?: unknown) {
    return source.publicServer.inject({ method, url, headers: { authorization: `Bearer ${bearer}` }, ...(payload === undefined ? {} : { payload: payload as object }) });
  }

  const snapshot = async () => ({
    users: await admin`SELECT id, org_id, name, email, phone, version::int AS version, updated_at FROM users ORDER BY id`,
    outbox: await admin`SELECT id::int AS id FROM outbox ORDER BY id`,
  });

  async function unchanged(attempt: () => Promise<{ statusCode: number }>, status: number) {
    const before = await snapshot();
    const response = await attempt();
    expect(response.statusCode).toBe(status);
    expect(await snapshot()).toEqual(before);
  }

  it.each([
    ['NUL in name', { name: 'Eve\u0000', email: 'eve@a.test' }],
    ['NUL in email', { name: 'Eve', email: 'eve\u0000@a.test' }],
    ['NUL in phone', { name: 'Eve', email: 'eve@a.test', phone: '+44\u00001234' }],
    ['a number for name', { name: 123, email: 'eve@a.test' }],
    ['an array for name', { name: ['x'], email: 'eve@a.test' }],
    ['a boolean for name', { name: true, email: 'eve@a.test' }],
    ['a number for phone', { name: 'Eve', email: 'eve@a.test', phone: 4420794600 }],
  ])('POST /users: 400 for %s', async (_name, body) => {
    await unchanged(() => call('POST', '/users', token, body), 400);
  });

  it.each([
    ['NUL in name', { name: 'Eve\u0000' }],
    ['NUL alone in name', { name: '\u0000' }],
    ['a number for name', { name: 123 }],
    ['an array for name', { name: ['x'] }],
  ])('PATCH /users/:id: 400 for %s', async (_name, body) => {
    await unchanged(() => call('PATCH', `/users/${userId}`, token, body), 400);
  });

  it.each(['+275760-09-13T00:00:00.000Z', '-000001-01-01T00:00:00.000Z', '+010000-01-01T00:00:00.000Z'])(
    'GET /users: 400 for a cursor at %s, outside PostgreSQL timestamps',
    async (createdAt) => {
      const response = await call('GET', `/users?cursor=${cursorOf(createdAt)}`, token);
      expect(response.statusCode).toBe(400);
      expect(response.json()).toMatchObject({ statusCode: 400, message: 'cursor is invalid' });
    },
  );

  it('still coerces the query string: limit=1 as text is the integer 1', async () => {
    const response = await call('GET', '/users?limit=1', token);
    expect(response.statusCode).toBe(200);
    expect(response.json<{ items: unknown[] }>().items).toHaveLength(1);
  });

  it.each([
    ['a sub holding NUL', () => mintToken({ orgId: a.id, subject: `${a.admin}\u0000` })],
    ['a sub of ..', () => mintToken({ orgId: a.id, subject: '..' })],
    ['a sub of 150 characters', () => mintToken({ orgId: a.id, subject: 'a'.repeat(150) })],
    ['iat an hour in the future', () => mintToken({ orgId: a.id, subject: a.admin, issuedAt: nowS() + 3_600, expiresIn: nowS() + 3_900 })],
    ['no iat', () => mintToken({ orgId: a.id, subject: a.admin, issuedAt: null })],
    ['exp ten years ahead', () => mintToken({ orgId: a.id, subject: a.admin, expiresIn: '3650d' })],
    ['typ refresh+jwt', () => mintToken({ orgId: a.id, subject: a.admin, type: 'refresh+jwt' })],
    ['no typ', () => mintToken({ orgId: a.id, subject: a.admin, type: null })],
  ])('401 on every route for a token with %s', async (_name, mint) => {
    const bad = await mint();
    for (const [method, url, body] of [
      ['GET', '/users'],
      ['GET', `/users/${userId}`],
      ['POST', '/users', { name: 'Eve', email: 'eve@a.test' }],
      ['PATCH', `/users/${userId}`, { name: 'Eve' }],
      ['DELETE', `/users/${userId}`],
    ] as const) {
      await unchanged(() => call(method, url, bad, body), 401);
    }
  });

  it('accepts the access token types at+jwt and application/at+jwt', async () => {
    for (const type of ['at+jwt', 'application/at+jwt', 'jwt']) {
      expect((await call('GET', '/users', await mintToken({ orgId: a.id, subject: a.admin, type }))).statusCode).toBe(200);
    }
  });
});
