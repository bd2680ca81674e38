import { createHmac, generateKeyPairSync, randomUUID, sign, type KeyObject } from 'node:crypto';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import postgres from 'postgres';
import { Agent, request } from 'undici';
import { afterAll, beforeAll, describe, expect, it, inject } from 'vitest';
import { InvalidOrgIdError, TenantMismatchError, TenantSyncApiError, TenantSyncClient } from '@tenant-sync/client';
import { encodeCursor } from '@tenant-sync/contracts';
import { certsDir, eventually, mintToken, startSystem, testTenants, type RunningSystem } from '@tenant-sync/testing';

const infra = inject('infra');
const { a, b, suspended } = testTenants;
const unauthorized = { statusCode: 401, code: 'AUTH_UNAUTHORIZED', error: 'Unauthorized', message: 'invalid or missing credentials' };

const base64url = (value: object | string) => Buffer.from(typeof value === 'string' ? value : JSON.stringify(value)).toString('base64url');
const claimsFor = (orgId: string, subject: string) => {
  const now = Math.floor(Date.now() / 1000);
  return { sub: subject, org_id: orgId, role: 'tenant_admin', iss: 'tenant-sync-dev', aud: 'tenant-sync', iat: now, nbf: now, exp: now + 300 };
};

/** Tokens an attacker can make without the signing key, forged by hand so jose plays no part. */
const forge = {
  algNone: (claims: object) => `${base64url({ alg: 'none', typ: 'JWT' })}.${base64url(claims)}.`,
  hs256WithPublicKey: (claims: object) => {
    const input = `${base64url({ alg: 'HS256', typ: 'JWT' })}.${base64url(claims)}`;
    const secret = readFileSync(path.join(certsDir, 'jwt-public.pem'));
    return `${input}.${createHmac('sha256', secret).update(input).digest('base64url')}`;
  },
  es256WithKey: (claims: object, key: KeyObject) => {
    const input = `${base64url({ alg: 'ES256', typ: 'JWT' })}.${base64url(claims)}`;
    return `${input}.${sign('sha256', Buffer.from(input), { key, dsaEncoding: 'ieee-p1363' }).toString('base64url')}`;
  },
};

/**
 * Attacks on the two public listeners of the real, running apps (source :8001, consumer :8002)
 * over real PostgreSQL and Kafka. Every case asserts the refusal and that neither database
 * changed; no attack may produce a 5xx.
 */
describe('tenant isolation under attack: the real apps on :8001 and :8002', () => {
  let system: RunningSystem | undefined;
  const agent = new Agent({ connect: { ca: readFileSync(path.join(certsDir, 'ca.crt')) } });
  const sourceDb = postgres(infra.sourceAdminUrl, { max: 1, onnotice: () => {} });
  const consumerDb = postgres(infra.consumerAdminUrl, { max: 1, onnotice: () => {} });
  const ports = { public: 0, internal: 0, cache: 0 };
  const statuses: Array<{ what: string; status: number }> = [];
  const tokens = { adminA: '', memberA: '', adminB: '' };
  const users = { a: '', b: '' };
  const teams = { a: '', b: '' };
  /** Each synced type's collection on :8001 and :8002, its seeded rows and its not-found code. */
  const collections = [
    { path: 'users', ids: users, notFound: { code: 'SRC_USER_NOT_FOUND', message: 'user not found' }, change: { name: 'Mallory' } },
    { path: 'teams', ids: teams, notFound: { code: 'SRC_TEAM_NOT_FOUND', message: 'team not found' }, change: { name: 'Mallory' } },
  ] as const;
  const clients: { a?: TenantSyncClient; b?: TenantSyncClient } = {};
  const clientFor = (token: string) =>
    new TenantSyncClient({
      baseUrl: `https://localhost:${ports.public}`,
      cacheUrl: `https://localhost:${ports.cache}`,
      ca: readFileSync(path.join(certsDir, 'ca.crt')),
      token,
    });

  interface Sent {
    status: number;
    text: string;
    json: () => Record<string, unknown>;
  }

  const send = async (
    port: number,
    method: 'GET' | 'POST' | 'PATCH' | 'DELETE',
    url: string,
    options: { token?: string; headers?: Record<string, string>; body?: string | object; contentType?: string } = {},
  ): Promise<Sent> => {
    const body = options.body === undefined ? null : typeof options.body === 'string' ? options.body : JSON.stringify(options.body);
    const headers: Record<string, string> = { ...options.headers };
    if (options.token !== undefined) headers.authorization = `Bearer ${options.token}`;
    if (body !== null) headers['content-type'] = options.contentType ?? 'application/json';
    const response = await request(`https://localhost:${port}${url}`, { method, dispatcher: agent, headers, body });
    const text = await response.body.text();
    statuses.push({ what: `${method} :${port}${url}`, status: response.statusCode });
    return { status: response.statusCode, text, json: () => JSON.parse(text) as Record<string, unknown> };
  };

  /** Everything an attack could change: users, teams, outbox rows and the outbox sequence, orgs, members, the consumer's copies. */
  const snapshot = async () => ({
    users: await sourceDb`SELECT org_id, id, name, email, phone, version::int AS version, updated_at FROM users ORDER BY org_id, id`,
    teams: await sourceDb`SELECT org_id, id, name, description, version::int AS version, updated_at FROM teams ORDER BY org_id, id`,
    outbox: await sourceDb`SELECT id::int AS id, org_id, aggregate_id, action FROM outbox ORDER BY id`,
    outboxSequence: (await sourceDb`SELECT last_value::int AS value, is_called FROM outbox_id_seq`)[0],
    organizations: await sourceDb`SELECT id, status FROM organizations ORDER BY id`,
    memberships: await sourceDb`SELECT org_id, subject, role, status FROM memberships ORDER BY org_id, subject`,
    syncedUsers: await consumerDb`SELECT org_id, id, name, email, version::int AS version, deleted_at FROM synced_users ORDER BY org_id, id`,
    syncedTeams: await consumerDb`SELECT org_id, id, name, description, version::int AS version, deleted_at FROM synced_teams ORDER BY org_id, id`,
  });

  /** Runs `attack` and checks that neither database changed. */
  const unchanged = async (attack: () => Promise<void>) => {
    const before = await snapshot();
    await attack();
    expect(await snapshot()).toEqual(before);
  };

  beforeAll(async () => {
    system = await startSystem(infra);
    Object.assign(ports, system.ports);

    tokens.adminA = await mintToken({ orgId: a.id, subject: a.admin });
    tokens.memberA = await mintToken({ orgId: a.id, subject: a.member, role: 'member' });
    tokens.adminB = await mintToken({ orgId: b.id, subject: b.admin });
    clients.a = clientFor(tokens.adminA);
    clients.b = clientFor(tokens.adminB);
    users.a = (await clients.a.createUser(a.id, { name: 'Alice of A', email: 'alice@attacks-a.test' })).id;
    users.b = (await clients.b.createUser(b.id, { name: 'Bob of B', email: 'bob@attacks-b.test' })).id;
    teams.a = (await send(ports.public, 'POST', '/teams', { token: tokens.adminA, body: { name: 'Team of A' } })).json().id as string;
    teams.b = (await send(ports.public, 'POST', '/teams', { token: tokens.adminB, body: { name: 'Team of B', description: 'secret plans' } })).json().id as string;
    // Settle: users and teams mirrored, the outbox drained. From here on nothing may change.
    await eventually(async () => {
      const synced = await consumerDb`SELECT id FROM synced_users WHERE id IN ${consumerDb([users.a, users.b])}`;
      expect(synced).toHaveLength(2);
      expect(await consumerDb`SELECT id FROM synced_teams WHERE id IN ${consumerDb([teams.a, teams.b])}`).toHaveLength(2);
      expect(await sourceDb`SELECT id FROM outbox`).toEqual([]);
    }, 30_000);
  });

  afterAll(async () => {
    await system?.stop();
    await Promise.all([agent.close(), clients.a?.close(), clients.b?.close()]);
    await sourceDb.end();
    await consumerDb.end();
  });

  describe('tokens: every failure is the same 401, on both listeners', () => {
    const otherKey = generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey;
    const nowS = () => Math.floor(Date.now() / 1000);
    const cases: Array<[string, () => Promise<{ token?: string; headers?: Record<string, string> }>]> = [
      ['no token', async () => ({})],
      ['a malformed token', async () => ({ token: 'not.a.jwt' })],
      ['a token that is not a JWT at all', async () => ({ headers: { authorization: 'Basic YWRtaW46YWRtaW4=' } })],
      ['alg none', async () => ({ token: forge.algNone(claimsFor(a.id, a.admin)) })],
      ['a token signed with another key', async () => ({ token: forge.es256WithKey(claimsFor(a.id, a.admin), otherKey) })],
      ['HS256 made with the public key as secret', async () => ({ token: forge.hs256WithPublicKey(claimsFor(a.id, a.admin)) })],
      ['a wrong issuer', async () => ({ token: await mintToken({ orgId: a.id, subject: a.admin, issuer: 'https://evil.test' }) })],
      ['a wrong audience', async () => ({ token: await mintToken({ orgId: a.id, subject: a.admin, audience: 'another-service' }) })],
      ['an expired token', async () => ({ token: await mintToken({ orgId: a.id, subject: a.admin, expiresIn: nowS() - 60 }) })],
      ['a token not yet valid', async () => ({ token: await mintToken({ orgId: a.id, subject: a.admin, notBefore: nowS() + 600 }) })],
      ['a suspended organisation', async () => ({ token: await mintToken({ orgId: suspended.id, subject: suspended.admin }) })],
      ['a subject that is not a member', async () => ({ token: await mintToken({ orgId: a.id, subject: 'stranger' }) })],
      ['an admin of B presenting a token for A', async () => ({ token: await mintToken({ orgId: a.id, subject: b.admin }) })],
      ['an org_id claim that is SQL', async () => ({ token: await mintToken({ orgId: "' OR 1=1 --", subject: a.admin }) })],
      ['X-Tenant-ID naming another tenant', async () => ({ token: tokens.adminA, headers: { 'x-tenant-id': b.id } })],
      ['X-Tenant-ID that is SQL', async () => ({ token: tokens.adminA, headers: { 'x-tenant-id': "00000000-0000-0000-0000-000000000000' OR '1'='1" } })],
    ];

    it.each(cases)('401 for %s', async (_name, credentials) => {
      const { token, headers } = await credentials();
      await unchanged(async () => {
        const attempts = [
          await send(ports.public, 'GET', '/users', { token, headers }),
          await send(ports.public, 'GET', `/users/${users.a}`, { token, headers }),
          await send(ports.public, 'POST', '/users', { token, headers, body: { name: 'Eve', email: 'eve@attacks-a.test' } }),
          await send(ports.public, 'PATCH', `/users/${users.a}`, { token, headers, body: { name: 'Eve' } }),
          await send(ports.public, 'DELETE', `/users/${users.a}`, { token, headers }),
          await send(ports.cache, 'GET', '/cache/users', { token, headers }),
        ];
        for (const attempt of attempts) {
          expect(attempt.status).toBe(401);
          expect(attempt.json()).toEqual(unauthorized);
        }
      });
    });
  });

  describe("another tenant's data: indistinguishable from data that does not exist", () => {
    it("answers GET, PATCH and DELETE of B's user or team id with the same 404 as a missing id", async () => {
      await unchanged(async () => {
        for (const { path: collection, ids, notFound, change } of collections) {
          for (const [method, body] of [['GET'], ['PATCH', change], ['DELETE']] as const) {
            const foreign = await send(ports.public, method, `/${collection}/${ids.b}`, { token: tokens.adminA, body });
            const missing = await send(ports.public, method, `/${collection}/${randomUUID()}`, { token: tokens.adminA, body });
            expect(foreign.status).toBe(404);
            expect(foreign.text).toBe(missing.text);
            expect(foreign.json()).toEqual({ statusCode: 404, error: 'Not Found', ...notFound });
          }
        }
      });
    });

    it("lists only the caller's teams on :8001 and :8002", async () => {
      await unchanged(async () => {
        for (const [token, orgId, own] of [
          [tokens.adminA, a.id, teams.a],
          [tokens.adminB, b.id, teams.b],
        ] as const) {
          for (const port of [ports.public, ports.cache]) {
            const page = await send(port, 'GET', port === ports.public ? '/teams' : '/cache/teams', { token });
            expect(page.status).toBe(200);
            expect((page.json().items as Array<{ id: string; orgId: string }>).map((team) => [team.id, team.orgId])).toEqual([[own, orgId]]);
          }
        }
      });
    });

    it("lists only the caller's tenant on :8001 and :8002", async () => {
      await unchanged(async () => {
        for (const [client, orgId, own] of [
          [clients.a, a.id, users.a],
          [clients.b, b.id, users.b],
        ] as const) {
          if (!client) throw new Error('clients are made in beforeAll');
          expect((await client.listUsers(orgId)).items.map((user) => user.id)).toEqual([own]);
          expect((await client.listCachedUsers(orgId)).items.map((user) => user.id)).toEqual([own]);
          expect((await client.getUser(orgId, own)).orgId).toBe(orgId);
        }
      });
    });

    it("a cursor made from another tenant's row pages through the caller's own rows only", async () => {
      for (const { path: collection, ids } of collections) {
        const [rowOfB] = await sourceDb`SELECT created_at, id FROM ${sourceDb(collection)} WHERE id = ${ids.b}`;
        if (!rowOfB) throw new Error(`the ${collection} of B are seeded in beforeAll`);
        // Just before B's row, so B's row would be the first of the page if the tenant were ignored.
        const cursor = encodeCursor(new Date(new Date(rowOfB.created_at as Date).getTime() - 1), '00000000-0000-0000-0000-000000000000');
        await unchanged(async () => {
          for (const port of [ports.public, ports.cache]) {
            const page = await send(port, 'GET', `${port === ports.public ? `/${collection}` : `/cache/${collection}`}?cursor=${cursor}`, { token: tokens.adminA });
            expect(page.status).toBe(200);
            expect(page.text).not.toContain(ids.b);
            for (const item of page.json().items as Array<{ orgId: string }>) expect(item.orgId).toBe(a.id);
          }
        });
      }
    });

    it("the typed client refuses to act for another tenant than its token's, or for no valid one", async () => {
      const client = clients.a;
      if (!client) throw new Error('clients are made in beforeAll');
      await unchanged(async () => {
        await expect(client.getUser(b.id, users.b)).rejects.toBeInstanceOf(TenantMismatchError);
        await expect(client.deleteUser(b.id, users.b)).rejects.toBeInstanceOf(TenantMismatchError);
        await expect(client.listCachedUsers(b.id)).rejects.toBeInstanceOf(TenantMismatchError);
        await expect(client.getTeam(b.id, teams.b)).rejects.toBeInstanceOf(TenantMismatchError);
        await expect(client.deleteTeam(b.id, teams.b)).rejects.toBeInstanceOf(TenantMismatchError);
        await expect(client.listCachedTeams(b.id)).rejects.toBeInstanceOf(TenantMismatchError);
        await expect(client.createUser("' OR 1=1 --", { name: 'Eve', email: 'eve@attacks-a.test' })).rejects.toBeInstanceOf(InvalidOrgIdError);
        // Within its own tenant, another tenant's id is the server's plain 404.
        await expect(client.getUser(a.id, users.b)).rejects.toMatchObject({ status: 404, body: { message: 'user not found' } });
        await expect(client.getTeam(a.id, teams.b)).rejects.toMatchObject({ status: 404, body: { message: 'team not found' } });
        await expect(client.updateUser(a.id, users.b, { name: 'Mallory' })).rejects.toBeInstanceOf(TenantSyncApiError);
      });
    });

    it('refuses a body naming another orgId (400) and never writes into that tenant', async () => {
      await unchanged(async () => {
        const create = await send(ports.public, 'POST', '/users', {
          token: tokens.adminA,
          body: { name: 'Eve', email: 'eve@attacks-b.test', orgId: b.id },
        });
        const createSnake = await send(ports.public, 'POST', '/users', {
          token: tokens.adminA,
          body: { name: 'Eve', email: 'eve@attacks-b.test', org_id: b.id },
        });
        const move = await send(ports.public, 'PATCH', `/users/${users.a}`, { token: tokens.adminA, body: { orgId: b.id } });
        const reassign = await send(ports.public, 'PATCH', `/users/${users.a}`, { token: tokens.adminA, body: { id: users.b, name: 'Eve' } });
        for (const attempt of [create, createSnake, move, reassign]) expect(attempt.status).toBe(400);
      });
    });
  });

  describe('hostile input: refused as input, never a server error', () => {
    it('400 for a non-UUID id, SQL or not, on every verb', async () => {
      await unchanged(async () => {
        for (const id of ['42', "1' OR '1'='1", `${users.b}' --`, '../users', '00000000-0000-0000-0000-00000000000Z']) {
          for (const [method, body] of [['GET'], ['PATCH', { name: 'Eve' }], ['DELETE']] as const) {
            const attempt = await send(ports.public, method, `/users/${encodeURIComponent(id)}`, { token: tokens.adminA, body });
            expect(attempt.status, `${method} ${id}`).toBe(400);
          }
        }
      });
    });

    it('400 for SQL in query strings and in body fields that have a shape', async () => {
      await unchanged(async () => {
        const attempts = [
          await send(ports.public, 'GET', `/users?limit=${encodeURIComponent('1; DROP TABLE users')}`, { token: tokens.adminA }),
          await send(ports.public, 'GET', `/users?cursor=${encodeURIComponent("' OR 1=1 --")}`, { token: tokens.adminA }),
          await send(ports.cache, 'GET', `/cache/users?cursor=${encodeURIComponent("' OR 1=1 --")}`, { token: tokens.adminA }),
          await send(ports.cache, 'GET', `/cache/users?limit=${encodeURIComponent('1 OR 1=1')}`, { token: tokens.adminA }),
          await send(ports.cache, 'GET', `/cache/users?org_id=${b.id}`, { token: tokens.adminA }),
          await send(ports.public, 'GET', '/users?__proto__=x&constructor=y', { token: tokens.adminA }),
          await send(ports.cache, 'GET', '/cache/users?__proto__[polluted]=1', { token: tokens.adminA }),
          await send(ports.public, 'POST', '/users', { token: tokens.adminA, body: { name: 'Eve', email: "eve'); DROP TABLE users; --" } }),
          await send(ports.public, 'POST', '/users', { token: tokens.adminA, body: { name: 'Eve', email: 'eve@x.test', phone: "1' OR '1'='1" } }),
        ];
        for (const attempt of attempts) expect(attempt.status).toBe(400);
      });
    });

    it('stores SQL-looking text verbatim as data, touching no other row or tenant', async () => {
      const before = await snapshot();
      const name = "Robert'); DROP TABLE users; --";
      const created = await send(ports.public, 'POST', '/users', { token: tokens.adminA, body: { name, email: 'bobby@attacks-a.test' } });
      expect(created.status).toBe(201);
      expect(created.json()).toMatchObject({ orgId: a.id, name });
      const id = created.json().id as string;
      expect(await sourceDb`SELECT org_id, name FROM users WHERE id = ${id}`).toEqual([{ org_id: a.id, name }]);
      // Remove it again, and wait until the consumer has its tombstone, so the other cases start settled.
      expect((await send(ports.public, 'DELETE', `/users/${id}`, { token: tokens.adminA })).status).toBe(204);
      await eventually(async () => {
        const [row] = await consumerDb`SELECT org_id, deleted_at FROM synced_users WHERE id = ${id}`;
        expect(row?.org_id).toBe(a.id);
        expect(row?.deleted_at).not.toBeNull();
        expect(await sourceDb`SELECT id FROM outbox`).toEqual([]);
      }, 30_000);
      const after = await snapshot();
      expect(after.users).toEqual(before.users);
      expect(after.syncedUsers.filter((row) => row.id !== id)).toEqual(before.syncedUsers);
      expect(after.organizations).toEqual(before.organizations);
      expect(after.memberships).toEqual(before.memberships);
    });

    it('413 for an oversized body', async () => {
      await unchanged(async () => {
        const attempt = await send(ports.public, 'POST', '/users', {
          token: tokens.adminA,
          body: JSON.stringify({ name: 'x'.repeat(200_000), email: 'big@attacks-a.test' }),
        });
        expect(attempt.status).toBe(413);
        expect(attempt.json()).toMatchObject({ statusCode: 413 });
      });
    });

    it('400 for __proto__ and constructor keys, and nothing is polluted', async () => {
      await unchanged(async () => {
        const bodies = [
          '{"name":"Eve","email":"eve@attacks-a.test","__proto__":{"role":"tenant_admin","polluted":true}}',
          '{"name":"Eve","email":"eve@attacks-a.test","constructor":{"prototype":{"polluted":true}}}',
          '{"__proto__":{"polluted":true}}',
        ];
        for (const body of bodies) {
          expect((await send(ports.public, 'POST', '/users', { token: tokens.adminA, body })).status).toBe(400);
          expect((await send(ports.public, 'PATCH', `/users/${users.a}`, { token: tokens.adminA, body })).status).toBe(400);
        }
        // A plain member still may not write: no prototype now grants a role or adds a field.
        expect((await send(ports.public, 'POST', '/users', { token: tokens.memberA, body: { name: 'Eve', email: 'eve@a.test' } })).status).toBe(403);
        const listed = await send(ports.public, 'GET', '/users', { token: tokens.adminA });
        expect(listed.text).not.toContain('polluted');
      });
    });

    it('415 for a body that is not JSON', async () => {
      await unchanged(async () => {
        for (const contentType of ['text/plain', 'application/x-www-form-urlencoded', 'application/xml', 'multipart/form-data; boundary=x']) {
          const attempt = await send(ports.public, 'POST', '/users', {
            token: tokens.adminA,
            body: 'name=Eve&email=eve%40attacks-a.test',
            contentType,
          });
          expect(attempt.status, contentType).toBe(415);
        }
      });
    });

    it('403 when a member tries to write, 404 for internal routes on the public listeners', async () => {
      await unchanged(async () => {
        expect((await send(ports.public, 'DELETE', `/users/${users.a}`, { token: tokens.memberA })).status).toBe(403);
        const internalHeaders = { 'x-consumer-id': 'consumer', 'x-tenant-id': a.id };
        for (const port of [ports.public, ports.cache]) {
          const attempt = await send(port, 'GET', `/internal/sync/user/${users.a}`, { token: tokens.adminA, headers: internalHeaders });
          expect(attempt.status).toBe(404);
          expect(attempt.text).not.toContain('alice');
        }
      });
    });
  });

  it('answered no attack with a server error, and the apps logged no failure', () => {
    expect(statuses.length).toBeGreaterThan(100);
    expect(statuses.filter((entry) => entry.status >= 500)).toEqual([]);
    const failures = [system!.source, system!.relay, system!.consumer].flatMap((app) => app.logLines()).filter((line) => typeof line.level === 'number' && line.level >= 50);
    expect(failures).toEqual([]);
  });
});
