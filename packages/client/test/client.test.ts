import { readFileSync } from 'node:fs';
import { createServer as createHttpServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, afterEach, beforeAll, describe, expect, expectTypeOf, it } from 'vitest';
import type { Team, TeamPage, User, UserPage } from '@tenant-sync/contracts';
import { InvalidOrgIdError, InvalidResponseError, syncedTypes, TenantMismatchError, TenantSyncApiError, TenantSyncClient } from '../src/index.ts';

const orgA = '00000000-0000-0000-0000-000000000000';
const orgB = '11111111-1111-1111-1111-111111111111';
const userId = '5d7a0a36-52c7-4c1d-9b8e-1f9d5cf2f3a0';
const teamId = '7c3e1b52-0d4f-4a8e-9a61-2b5f0e9d8c17';
const certsDir = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../../certs');

/** The client decodes, never verifies: a JWT-shaped string with the claims is all it needs. */
const tokenFor = (claims: object) =>
  `${Buffer.from('{"alg":"ES256"}').toString('base64url')}.${Buffer.from(JSON.stringify(claims)).toString('base64url')}.c2ln`;
const tokenA = tokenFor({ sub: 'default-admin', org_id: orgA });

const user = (orgId: unknown, id = userId) => ({
  id,
  orgId,
  name: 'Ann',
  email: 'ann@a.test',
  phone: null,
  version: 1,
  createdAt: '2026-01-01T00:00:00.000Z',
  updatedAt: '2026-01-01T00:00:00.000Z',
});

const team = (orgId: unknown, id = teamId) => ({
  id,
  orgId,
  name: 'Platform',
  description: null,
  version: 1,
  createdAt: '2026-01-01T00:00:00.000Z',
  updatedAt: '2026-01-01T00:00:00.000Z',
});

/** Every item of an iteration; the iterators are lazy, so this is what makes them send. */
const drain = async <T>(items: AsyncIterable<T>) => {
  const all: T[] = [];
  for await (const item of items) all.push(item);
  return all;
};

/** Every call of the client, by name: the refusals must hold for each. */
const everyCall: Record<string, (client: TenantSyncClient, orgId: string) => Promise<unknown>> = {
  createUser: (client, orgId) => client.createUser(orgId, { name: 'Eve', email: 'eve@a.test' }),
  getUser: (client, orgId) => client.getUser(orgId, userId),
  listUsers: (client, orgId) => client.listUsers(orgId),
  users: (client, orgId) => drain(client.users(orgId)),
  updateUser: (client, orgId) => client.updateUser(orgId, userId, { name: 'Eve' }),
  deleteUser: (client, orgId) => client.deleteUser(orgId, userId),
  listCachedUsers: (client, orgId) => client.listCachedUsers(orgId),
  cachedUsers: (client, orgId) => drain(client.cachedUsers(orgId)),
  createTeam: (client, orgId) => client.createTeam(orgId, { name: 'Intruders' }),
  getTeam: (client, orgId) => client.getTeam(orgId, teamId),
  listTeams: (client, orgId) => client.listTeams(orgId),
  teams: (client, orgId) => drain(client.teams(orgId)),
  updateTeam: (client, orgId) => client.updateTeam(orgId, teamId, { name: 'Intruders' }),
  deleteTeam: (client, orgId) => client.deleteTeam(orgId, teamId),
  listCachedTeams: (client, orgId) => client.listCachedTeams(orgId),
  cachedTeams: (client, orgId) => drain(client.cachedTeams(orgId)),
};
const callNames = Object.keys(everyCall);

interface Seen {
  method: string;
  url: string;
  headers: IncomingMessage['headers'];
  body: string;
}

/** A fake users API: records what it is sent and answers what the test says. */
describe('TenantSyncClient', () => {
  const seen: Seen[] = [];
  let answer: (request: Seen) => { status: number; body?: unknown } = () => ({ status: 200, body: {} });
  const handle = (request: IncomingMessage, response: ServerResponse) => {
    let body = '';
    request.on('data', (chunk: Buffer) => (body += chunk.toString()));
    request.on('end', () => {
      const entry = { method: request.method ?? '', url: request.url ?? '', headers: request.headers, body };
      seen.push(entry);
      const { status, body: payload } = answer(entry);
      response.writeHead(status, payload === undefined ? {} : { 'content-type': 'application/json' });
      response.end(payload === undefined ? undefined : JSON.stringify(payload));
    });
  };
  const server = createHttpServer(handle);
  let client: TenantSyncClient;

  beforeAll(async () => {
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    client = new TenantSyncClient({ baseUrl: url, cacheUrl: url, token: tokenA, timeoutMs: 2_000 });
  });
  afterEach(() => {
    seen.length = 0;
  });
  afterAll(async () => {
    await client.close();
    await new Promise((resolve) => server.close(resolve));
  });

  describe('refuses before sending anything', () => {
    it.each(['', 'default', "' OR 1=1 --", `${orgA}x`, '00000000-0000-0000-0000-00000000000g'])('an org id that is not a UUID: %j', async (orgId) => {
      for (const call of Object.values(everyCall)) await expect(call(client, orgId)).rejects.toBeInstanceOf(InvalidOrgIdError);
      expect(seen).toEqual([]);
    });

    it.each(callNames)('an org id that is not the org of its token, on %s', async (name) => {
      await expect(everyCall[name]!(client, orgB)).rejects.toBeInstanceOf(TenantMismatchError);
      expect(seen).toEqual([]);
    });

    it.each([
      ['a token without org_id', tokenFor({ sub: 'x' })],
      ['a token whose org_id is not a UUID', tokenFor({ sub: 'x', org_id: 'default' })],
      ['a string that is not a JWT', 'not-a-jwt'],
    ])('%s', async (_name, token) => {
      const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
      const bad = new TenantSyncClient({ baseUrl: url, cacheUrl: url, token });
      for (const call of Object.values(everyCall)) await expect(call(bad, orgA)).rejects.toBeInstanceOf(TenantMismatchError);
      await bad.close();
      expect(seen).toEqual([]);
    });

    it('a cache call of a client without the cacheUrl option', async () => {
      const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
      const publicOnly = new TenantSyncClient({ baseUrl: url, token: tokenA });
      await expect(publicOnly.listCachedTeams(orgA)).rejects.toThrow(/cacheUrl/);
      await expect(drain(publicOnly.cachedUsers(orgA))).rejects.toThrow(/cacheUrl/);
      await publicOnly.close();
      expect(seen).toEqual([]);
    });
  });

  it('has the eight calls of every declared type, and each is exercised here', () => {
    const own = Object.keys(client).filter((key) => typeof (client as unknown as Record<string, unknown>)[key] === 'function');
    expect(own.toSorted()).toEqual(callNames.toSorted());
    expect(own).toHaveLength(8 * Object.keys(syncedTypes).length);
    expectTypeOf(client.listTeams).returns.resolves.toEqualTypeOf<TeamPage>();
    expectTypeOf(client.listCachedUsers).returns.resolves.toEqualTypeOf<UserPage>();
    expectTypeOf(client.updateTeam).returns.resolves.toEqualTypeOf<Team>();
    expectTypeOf(client.cachedUsers).returns.toEqualTypeOf<AsyncGenerator<User>>();
  });

  it('sends the token and X-Tenant-ID, and returns the own tenant data', async () => {
    answer = () => ({ status: 200, body: user(orgA) });
    await expect(client.getUser(orgA.toUpperCase(), userId)).resolves.toEqual(user(orgA));
    expect(seen).toHaveLength(1);
    expect(seen[0]).toMatchObject({ method: 'GET', url: `/users/${userId}` });
    expect(seen[0]?.headers).toMatchObject({ authorization: `Bearer ${tokenA}`, 'x-tenant-id': orgA });
  });

  it('sends X-Tenant-ID on the team calls too, to the team routes', async () => {
    answer = ({ url }) => ({ status: 200, body: url.startsWith('/teams/') ? team(orgA) : { items: [team(orgA)], nextCursor: null } });
    await expect(client.getTeam(orgA.toUpperCase(), teamId)).resolves.toEqual(team(orgA));
    await expect(client.listTeams(orgA, { limit: 5 })).resolves.toEqual({ items: [team(orgA)], nextCursor: null });
    await expect(client.listCachedTeams(orgA)).resolves.toEqual({ items: [team(orgA)], nextCursor: null });
    expect(seen.map(({ method, url }) => ({ method, url }))).toEqual([
      { method: 'GET', url: `/teams/${teamId}` },
      { method: 'GET', url: '/teams?limit=5' },
      { method: 'GET', url: '/cache/teams' },
    ]);
    for (const entry of seen) expect(entry.headers).toMatchObject({ authorization: `Bearer ${tokenA}`, 'x-tenant-id': orgA });
  });

  it('asks the token source before every request, so rotated tokens are used', async () => {
    let calls = 0;
    const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    const rotating = new TenantSyncClient({ baseUrl: url, token: async () => tokenFor({ org_id: orgA, n: ++calls }) });
    answer = () => ({ status: 200, body: { items: [], nextCursor: null } });
    await rotating.listUsers(orgA);
    await rotating.listUsers(orgA);
    await rotating.close();
    expect(calls).toBe(2);
    expect(seen[0]?.headers.authorization).not.toBe(seen[1]?.headers.authorization);
  });

  it('sends bodies as JSON with the typed methods', async () => {
    answer = ({ method }) => (method === 'DELETE' ? { status: 204 } : { status: method === 'POST' ? 201 : 200, body: user(orgA) });
    await client.createUser(orgA, { name: 'Ann', email: 'ann@a.test' });
    await client.updateUser(orgA, userId, { name: 'Anne' });
    await expect(client.deleteUser(orgA, userId)).resolves.toBeUndefined();
    expect(seen.map(({ method, url, body }) => ({ method, url, body }))).toEqual([
      { method: 'POST', url: '/users', body: '{"name":"Ann","email":"ann@a.test"}' },
      { method: 'PATCH', url: `/users/${userId}`, body: '{"name":"Anne"}' },
      { method: 'DELETE', url: `/users/${userId}`, body: '' },
    ]);
    expect(seen[0]?.headers['content-type']).toBe('application/json');
  });

  it('sends team bodies as JSON, and ids as one path segment', async () => {
    answer = ({ method }) => (method === 'DELETE' ? { status: 204 } : { status: method === 'POST' ? 201 : 200, body: team(orgA) });
    await client.createTeam(orgA, { name: 'Platform', description: 'keeps the lights on' });
    await client.updateTeam(orgA, teamId, { description: null });
    await expect(client.deleteTeam(orgA, teamId)).resolves.toBeUndefined();
    await expect(client.deleteTeam(orgA, '../users/x?y')).resolves.toBeUndefined();
    expect(seen.map(({ method, url, body }) => ({ method, url, body }))).toEqual([
      { method: 'POST', url: '/teams', body: '{"name":"Platform","description":"keeps the lights on"}' },
      { method: 'PATCH', url: `/teams/${teamId}`, body: '{"description":null}' },
      { method: 'DELETE', url: `/teams/${teamId}`, body: '' },
      { method: 'DELETE', url: '/teams/..%2Fusers%2Fx%3Fy', body: '' },
    ]);
    expect(seen[0]?.headers['content-type']).toBe('application/json');
  });

  describe('never returns data without the caller org id', () => {
    it.each([
      ['a user without orgId', user(undefined)],
      ['a user of another org', user(orgB)],
      ['a user whose orgId is not a UUID', user('default')],
      ['an array instead of a user', [user(orgA)]],
    ])('getUser fails on %s', async (_name, body) => {
      answer = () => ({ status: 200, body });
      await expect(client.getUser(orgA, userId)).rejects.toBeInstanceOf(InvalidResponseError);
    });

    it('fails the whole page when one item is foreign, on both APIs', async () => {
      answer = () => ({ status: 200, body: { items: [user(orgA), user(orgB, orgB)], nextCursor: null } });
      await expect(client.listUsers(orgA)).rejects.toBeInstanceOf(InvalidResponseError);
      await expect(client.listCachedUsers(orgA)).rejects.toBeInstanceOf(InvalidResponseError);
      answer = () => ({ status: 200, body: { items: [{ ...user(orgA), orgId: undefined }], nextCursor: null } });
      await expect(client.listCachedUsers(orgA)).rejects.toBeInstanceOf(InvalidResponseError);
    });

    it.each([
      ['a team without orgId', team(undefined)],
      ['a team of another org', team(orgB)],
      ['a team whose orgId is not a UUID', team('default')],
      ['a team without id', { ...team(orgA), id: undefined }],
      ['a page instead of a team', { items: [team(orgA)], nextCursor: null }],
    ])('every single-team call fails on %s', async (_name, body) => {
      answer = () => ({ status: 200, body });
      await expect(client.getTeam(orgA, teamId)).rejects.toBeInstanceOf(InvalidResponseError);
      await expect(client.createTeam(orgA, { name: 'Platform' })).rejects.toBeInstanceOf(InvalidResponseError);
      await expect(client.updateTeam(orgA, teamId, { name: 'Platform' })).rejects.toBeInstanceOf(InvalidResponseError);
    });

    it('fails the whole team page, and the iteration, when one team is foreign', async () => {
      answer = () => ({ status: 200, body: { items: [team(orgA), team(orgB, orgB)], nextCursor: null } });
      await expect(client.listTeams(orgA)).rejects.toThrow('a team in the response belongs to another org');
      await expect(client.listCachedTeams(orgA)).rejects.toBeInstanceOf(InvalidResponseError);
      // The foreign team is on the second page: the iteration fails there, having yielded only the own page.
      answer = ({ url }) =>
        url.includes('cursor=') ? { status: 200, body: { items: [team(orgB, orgB)], nextCursor: null } } : { status: 200, body: { items: [team(orgA)], nextCursor: 'next' } };
      const yielded: string[] = [];
      const iterate = async () => {
        for await (const item of client.cachedTeams(orgA)) yielded.push(item.id);
      };
      await expect(iterate()).rejects.toBeInstanceOf(InvalidResponseError);
      expect(yielded).toEqual([teamId]);
    });

    it('fails on a body that is not JSON or not a page', async () => {
      answer = () => ({ status: 200, body: { users: [] } });
      await expect(client.listUsers(orgA)).rejects.toBeInstanceOf(InvalidResponseError);
    });
  });

  it('turns a refusal into a TenantSyncApiError with the status and the server JSON error', async () => {
    const body = { statusCode: 404, code: 'SRC_USER_NOT_FOUND', error: 'Not Found', message: 'user not found' };
    answer = () => ({ status: 404, body });
    const error = await client.getUser(orgA, userId).catch((caught: unknown) => caught);
    expect(error).toBeInstanceOf(TenantSyncApiError);
    expect(error).toMatchObject({ status: 404, body });
    const teamBody = { statusCode: 409, code: 'SRC_DUPLICATE_TEAM_NAME', error: 'Conflict', message: 'a team of that name exists' };
    answer = () => ({ status: 409, body: teamBody });
    await expect(client.createTeam(orgA, { name: 'Platform' })).rejects.toMatchObject({ status: 409, body: teamBody });
  });

  it('pages through every user with the iterators', async () => {
    const ids = ['a', 'b', 'c', 'd', 'e'].map((letter) => `${letter.repeat(8)}-0000-4000-8000-000000000000`);
    answer = ({ url }) => {
      const query = new URL(url, 'http://x').searchParams;
      const start = Number(query.get('cursor') ?? 0);
      const limit = Number(query.get('limit'));
      const next = start + limit < ids.length ? String(start + limit) : null;
      return { status: 200, body: { items: ids.slice(start, start + limit).map((id) => user(orgA, id)), nextCursor: next } };
    };
    const listed: string[] = [];
    for await (const item of client.users(orgA, 2)) listed.push(item.id);
    expect(listed).toEqual(ids);
    const cached: string[] = [];
    for await (const item of client.cachedUsers(orgA, 3)) cached.push(item.id);
    expect(cached).toEqual(ids);
    expect(seen.map((entry) => entry.url)).toEqual([
      '/users?limit=2',
      '/users?limit=2&cursor=2',
      '/users?limit=2&cursor=4',
      '/cache/users?limit=3',
      '/cache/users?limit=3&cursor=3',
    ]);
  });

  it('pages through every team with the iterators', async () => {
    const ids = ['a', 'b', 'c'].map((letter) => `${letter.repeat(8)}-0000-4000-8000-000000000000`);
    answer = ({ url }) => {
      const query = new URL(url, 'http://x').searchParams;
      const start = Number(query.get('cursor') ?? 0);
      const limit = Number(query.get('limit'));
      const next = start + limit < ids.length ? String(start + limit) : null;
      return { status: 200, body: { items: ids.slice(start, start + limit).map((id) => team(orgA, id)), nextCursor: next } };
    };
    expect((await drain(client.teams(orgA, 2))).map((item) => item.id)).toEqual(ids);
    expect((await drain(client.cachedTeams(orgA))).map((item) => item.id)).toEqual(ids);
    expect(seen.map((entry) => entry.url)).toEqual(['/teams?limit=2', '/teams?limit=2&cursor=2', '/cache/teams?limit=100']);
  });
});

describe('TenantSyncClient over TLS', () => {
  const serve = () =>
    createHttpsServer(
      { cert: readFileSync(path.join(certsDir, 'source.crt')), key: readFileSync(path.join(certsDir, 'source.key')) },
      (_request, response) => {
        response.writeHead(200, { 'content-type': 'application/json' });
        response.end(JSON.stringify({ items: [], nextCursor: null }));
      },
    );
  // The certificate names localhost and 127.0.0.1; 127.0.0.2 is loopback too, but not a name it carries.
  const servers = { named: serve(), unnamed: serve() };
  const ports = { named: 0, unnamed: 0 };
  const ca = readFileSync(path.join(certsDir, 'ca.crt'));
  beforeAll(async () => {
    await new Promise<void>((resolve) => servers.named.listen(0, '127.0.0.1', resolve));
    await new Promise<void>((resolve) => servers.unnamed.listen(0, '127.0.0.2', resolve));
    ports.named = (servers.named.address() as AddressInfo).port;
    ports.unnamed = (servers.unnamed.address() as AddressInfo).port;
  });
  afterAll(async () => {
    for (const server of Object.values(servers)) {
      server.closeAllConnections();
      await new Promise((resolve) => server.close(resolve));
    }
  });

  it('accepts a server certificate from the project CA that names the server', async () => {
    const trusting = new TenantSyncClient({ baseUrl: `https://127.0.0.1:${ports.named}`, ca, token: tokenA });
    await expect(trusting.listUsers(orgA)).resolves.toEqual({ items: [], nextCursor: null });
    await trusting.close();
  });

  it('refuses a server certificate it cannot chain to a trusted CA', async () => {
    const withoutCa = new TenantSyncClient({ baseUrl: `https://127.0.0.1:${ports.named}`, token: tokenA });
    await expect(withoutCa.listUsers(orgA)).rejects.toThrow(/certificate/i);
    await withoutCa.close();
  });

  it('refuses a server whose certificate does not carry the name it was reached by', async () => {
    const wrongName = new TenantSyncClient({ baseUrl: `https://127.0.0.2:${ports.unnamed}`, ca, token: tokenA });
    await expect(wrongName.listUsers(orgA)).rejects.toThrow(/IP: 127\.0\.0\.2 is not in the cert's list/);
    await wrongName.close();
  });
});
