import { createPrivateKey } from 'node:crypto';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import fc from 'fast-check';
import { SignJWT } from 'jose';
import postgres from 'postgres';
import { Agent, request } from 'undici';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { certsDir, mintToken, startSystem, testTenants, type RunningSystem } from '@tenant-sync/testing';

const infra = inject('infra');
const { a, b } = testTenants;
const signingKey = createPrivateKey(readFileSync(path.join(certsDir, 'jwt-private.pem')));
const nowS = () => Math.floor(Date.now() / 1000);

type Method = 'GET' | 'POST' | 'PATCH' | 'DELETE';
type Listener = 'public' | 'cache';

interface Attempt {
  listener: Listener;
  method: Method;
  path: string;
  query: Record<string, string>;
  headers: Record<string, string>;
  body: string | undefined;
  token: TokenShape;
}

/** The claims and header of a token, signed with the real key: only its content is hostile. */
interface TokenShape {
  typ: string | undefined;
  claims: Record<string, unknown>;
}

/** Text that fits in an HTTP header: printable ASCII (undici refuses anything else before sending). */
const headerText = fc.string({ unit: fc.integer({ min: 0x20, max: 0x7e }).map((code) => String.fromCharCode(code)), maxLength: 80 });
/** Any UTF-16 text, lone surrogates and NUL included. */
const anyText = fc.string({ unit: 'binary', maxLength: 220 });
const hostileText = fc.oneof(
  anyText,
  fc.constantFrom('', '.', '..', '\u0000', 'x\u0000y', '\ud800', "' OR 1=1 --", '%2e%2e', '../users', 'a'.repeat(129), 'a'.repeat(150), 'a'.repeat(5_000)),
);

/** Mostly what a genuine caller sends, so most runs get past the check they are not aimed at; sometimes anything. */
const mostly = <T, U>(genuine: fc.Arbitrary<T>, hostile: fc.Arbitrary<U>) => fc.oneof({ weight: 8, arbitrary: genuine }, { weight: 1, arbitrary: hostile });

/** Times a cursor may name, the far ends of JavaScript dates included. */
const cursorTime = fc.oneof(
  fc.date({ min: new Date(-8.64e15), max: new Date(8.64e15), noInvalidDate: true }).map((date) => date.toISOString()),
  fc.constantFrom('+275760-09-13T00:00:00.000Z', '-000001-01-01T00:00:00.000Z', '1969-12-31T23:59:59.999Z', '9999-12-31T23:59:59.999Z', 'now'),
  anyText,
);
const cursor = mostly(
  fc.tuple(fc.date({ min: new Date('2000-01-01'), max: new Date('2100-01-01'), noInvalidDate: true }), fc.uuid()).map(([date, id]) => Buffer.from(JSON.stringify([date.toISOString(), id])).toString('base64url')),
  fc.oneof(
    fc.tuple(cursorTime, fc.oneof(fc.uuid(), anyText)).map((position) => Buffer.from(JSON.stringify(position)).toString('base64url')),
    fc.jsonValue().map((value) => Buffer.from(JSON.stringify(value) ?? '').toString('base64url')),
    anyText,
  ),
);

const limit = mostly(
  fc.integer({ min: 1, max: 500 }).map(String),
  fc.oneof(fc.integer({ min: -10, max: 1_000 }).map(String), fc.constantFrom('1e400', 'NaN', '1.5', '1; DROP TABLE users', ''), headerText),
);
/** Keys no route declares: an org id, prototype pollution, anything. */
const strayQuery = fc.oneof(
  fc.constantFrom<Record<string, string>>({ org_id: b.id }, JSON.parse('{"__proto__":"x"}'), { 'constructor[prototype][polluted]': '1' }),
  fc.dictionary(headerText, headerText, { maxKeys: 2 }),
);
const query = fc
  .tuple(fc.record({ limit, cursor }, { requiredKeys: [] }), mostly(fc.constant({}), strayQuery))
  .map(([wanted, stray]) => ({ ...stray, ...wanted }) as Record<string, string>);

const userFields = {
  name: mostly(fc.string({ minLength: 1, maxLength: 60 }), fc.oneof(hostileText, fc.integer(), fc.array(fc.string(), { maxLength: 2 }), fc.constant(null), fc.boolean())),
  email: mostly(fc.stringMatching(/^[a-z0-9]{1,20}$/).map((local) => `${local}@a.fuzz.test`), fc.oneof(fc.emailAddress(), hostileText, fc.integer())),
  phone: mostly(fc.constantFrom('+44 20 7946 0000', null), fc.oneof(fc.constant('+44\u00001234'), hostileText, fc.integer())),
};
const strayFields = { orgId: fc.constantFrom(a.id, b.id), id: fc.uuid(), version: fc.integer(), constructor: fc.jsonValue() };
const body = fc.oneof(
  { weight: 4, arbitrary: fc.record(userFields, { requiredKeys: ['name', 'email'] }).map((value) => JSON.stringify(value)) },
  { weight: 2, arbitrary: fc.record({ ...userFields, ...strayFields }, { requiredKeys: [] }).map((value) => JSON.stringify(value)) },
  { weight: 1, arbitrary: fc.jsonValue().map((value) => JSON.stringify(value) ?? 'null') },
  { weight: 1, arbitrary: fc.oneof(anyText, fc.constantFrom('{"__proto__":{"polluted":true}}', '{"name":"x"', '')) },
);

const tokenShape: fc.Arbitrary<TokenShape> = fc
  .record({
    typ: mostly(fc.constantFrom('JWT', 'jwt', 'at+jwt', 'application/at+jwt'), fc.oneof(fc.constantFrom('refresh+jwt', 'id_token+jwt', undefined), headerText)),
    member: mostly(
      fc.constantFrom({ org_id: a.id, sub: a.admin }, { org_id: a.id, sub: a.member }, { org_id: b.id, sub: b.admin }),
      fc.record({ org_id: mostly(fc.constantFrom(a.id, b.id), hostileText), sub: fc.oneof(hostileText, fc.integer()) }),
    ),
    role: mostly(fc.constantFrom('tenant_admin', 'member'), fc.oneof(fc.constant('root'), hostileText)),
    // Seconds from now: the past, the present, beyond the tolerance and far beyond the maximum age.
    iat: mostly(fc.integer({ min: -60, max: 3 }), fc.oneof(fc.integer({ min: -100_000, max: 100_000 }), fc.constant(undefined))),
    lifetime: mostly(fc.integer({ min: 120, max: 3_600 }), fc.integer({ min: -600, max: 10 * 365 * 86_400 })),
  })
  .map(({ typ, iat, lifetime, member, role }) => {
    const issuedAt = nowS() + (iat ?? 0);
    return {
      typ,
      claims: { ...member, role, iss: 'tenant-sync-dev', aud: 'tenant-sync', ...(iat === undefined ? {} : { iat: issuedAt }), exp: issuedAt + lifetime },
    };
  });

const tenantHeader = mostly(fc.constant(undefined), fc.oneof(fc.constantFrom(a.id, b.id, a.id.toUpperCase()), headerText));
const headers = fc.record({ 'x-tenant-id': tenantHeader, traceparent: fc.option(headerText, { nil: undefined }) }).map((value) =>
  Object.fromEntries(Object.entries(value).filter((entry): entry is [string, string] => entry[1] !== undefined)),
);

/** Every route of the source's public listener and of the consumer's cache listener. */
const attempt = (userId: string): fc.Arbitrary<Attempt> => {
  const id = mostly(fc.oneof(fc.constant(userId), fc.uuid()), hostileText);
  const encoded = (raw: string) => (raw.isWellFormed() ? encodeURIComponent(raw) : encodeURIComponent(raw.toWellFormed()));
  const route = fc.oneof(
    fc.record({ listener: fc.constant<Listener>('public'), method: fc.constant<Method>('GET'), path: fc.constant('/users'), query, body: fc.constant(undefined) }),
    fc.record({ listener: fc.constant<Listener>('public'), method: fc.constant<Method>('POST'), path: fc.constant('/users'), query: fc.constant({}), body }),
    fc.record({ listener: fc.constant<Listener>('public'), method: fc.constant<Method>('GET'), path: id.map((raw) => `/users/${encoded(raw)}`), query: fc.constant({}), body: fc.constant(undefined) }),
    fc.record({ listener: fc.constant<Listener>('public'), method: fc.constant<Method>('PATCH'), path: id.map((raw) => `/users/${encoded(raw)}`), query: fc.constant({}), body }),
    fc.record({ listener: fc.constant<Listener>('public'), method: fc.constant<Method>('DELETE'), path: id.map((raw) => `/users/${encoded(raw)}`), query: fc.constant({}), body: fc.constant(undefined) }),
    fc.record({ listener: fc.constant<Listener>('cache'), method: fc.constant<Method>('GET'), path: fc.constant('/cache/users'), query, body: fc.constant(undefined) }),
  );
  return fc.record({ route, headers, token: tokenShape }).map(({ route: chosen, headers: sent, token }) => ({ ...chosen, headers: sent, token }));
};

const sign = ({ typ, claims }: TokenShape) => new SignJWT(claims).setProtectedHeader(typ === undefined ? { alg: 'ES256' } : { alg: 'ES256', typ }).sign(signingKey);

/**
 * Property-based fuzzing of the two public listeners of the real, running apps: bodies, query
 * strings, path parameters, X-Tenant-ID and the claims and header of signed tokens. No answer
 * is a 5xx, and a refused request leaves the source database as it was.
 */
describe('fuzzing :8001 and :8002: no input reaches a 5xx, a refusal changes nothing', () => {
  let system: RunningSystem | undefined;
  const agent = new Agent({ connect: { ca: readFileSync(path.join(certsDir, 'ca.crt')) } });
  const sourceDb = postgres(infra.sourceAdminUrl, { max: 1, onnotice: () => {} });
  const consumerDb = postgres(infra.consumerAdminUrl, { max: 1, onnotice: () => {} });
  const ports = { public: 0, cache: 0 };
  let userId = '';

  /** One value that changes when any row of users, memberships or organisations does. */
  const digest = async () => {
    const [row] = await sourceDb`
      SELECT (SELECT md5(coalesce(string_agg(u::text, '|' ORDER BY u.id), '')) FROM users u) AS users,
             (SELECT md5(coalesce(string_agg(m::text, '|' ORDER BY m.org_id, m.subject), '')) FROM memberships m) AS memberships,
             (SELECT md5(coalesce(string_agg(o::text, '|' ORDER BY o.id), '')) FROM organizations o) AS organizations`;
    return row;
  };

  const send = async (target: Attempt, token: string) => {
    const url = new URL(`https://localhost:${target.listener === 'public' ? ports.public : ports.cache}${target.path}`);
    for (const [key, value] of Object.entries(target.query)) url.searchParams.append(key, value);
    const response = await request(url, {
      method: target.method,
      dispatcher: agent,
      headers: {
        ...target.headers,
        authorization: `Bearer ${token}`,
        ...(target.body === undefined ? {} : { 'content-type': 'application/json' }),
      },
      body: target.body ?? null,
    });
    const text = await response.body.text();
    return { status: response.statusCode, text };
  };

  beforeAll(async () => {
    system = await startSystem(infra);
    Object.assign(ports, system.ports);
    const admin = await mintToken({ orgId: a.id, subject: a.admin });
    const created = await send(
      { listener: 'public', method: 'POST', path: '/users', query: {}, headers: {}, body: JSON.stringify({ name: 'Fuzz Target', email: 'fuzz-target@a.test' }), token: { typ: 'JWT', claims: {} } },
      admin,
    );
    expect(created.status).toBe(201);
    userId = (JSON.parse(created.text) as { id: string }).id;
  });

  afterAll(async () => {
    await system?.stop();
    await agent.close();
    // What the run created and synced, so later tests start from the seeded tenants only.
    await sourceDb`DELETE FROM users`;
    await sourceDb`DELETE FROM outbox`;
    await sourceDb`DELETE FROM tombstones`;
    await consumerDb`DELETE FROM synced_users`;
    await Promise.all([sourceDb.end(), consumerDb.end()]);
  });

  const regressions: Array<[string, Listener, string, number, () => Promise<string>]> = [
    ['a sub holding NUL', 'public', '/users', 401, () => mintToken({ orgId: a.id, subject: `${a.admin}\u0000` })],
    ['a sub holding NUL', 'cache', '/cache/users', 401, () => mintToken({ orgId: a.id, subject: `${a.admin}\u0000` })],
    ['a sub of ..', 'cache', '/cache/users', 401, () => mintToken({ orgId: a.id, subject: '..' })],
    ['a sub of .', 'cache', '/cache/users', 401, () => mintToken({ orgId: a.id, subject: '.' })],
    ['a sub of 150 characters', 'cache', '/cache/users', 401, () => mintToken({ orgId: a.id, subject: 'a'.repeat(150) })],
    ['iat an hour ahead', 'cache', '/cache/users', 401, () => mintToken({ orgId: a.id, subject: a.admin, issuedAt: nowS() + 3_600, expiresIn: nowS() + 3_900 })],
    ['exp ten years ahead', 'cache', '/cache/users', 401, () => mintToken({ orgId: a.id, subject: a.admin, expiresIn: '3650d' })],
    ['typ refresh+jwt', 'cache', '/cache/users', 401, () => mintToken({ orgId: a.id, subject: a.admin, type: 'refresh+jwt' })],
    ...(['+275760-09-13T00:00:00.000Z', '-000001-01-01T00:00:00.000Z'] as const).flatMap((time) => {
      const cursorAt = Buffer.from(JSON.stringify([time, '00000000-0000-0000-0000-000000000000'])).toString('base64url');
      const admin = () => mintToken({ orgId: a.id, subject: a.admin });
      return [
        [`a cursor at ${time}`, 'public', `/users?cursor=${cursorAt}`, 400, admin],
        [`a cursor at ${time}`, 'cache', `/cache/users?cursor=${cursorAt}`, 400, admin],
      ] as Array<[string, Listener, string, number, () => Promise<string>]>;
    }),
  ];

  it.each(regressions)('%s on %s %s is refused (%i), nothing changed', async (_name, listener, url, status, mint) => {
    const before = await digest();
    const [pathname, search] = url.split('?');
    const answer = await send(
      { listener, method: 'GET', path: pathname ?? url, query: Object.fromEntries(new URLSearchParams(search ?? '')), headers: {}, body: undefined, token: { typ: 'JWT', claims: {} } },
      await mint(),
    );
    expect(answer.status).toBe(status);
    expect(await digest()).toEqual(before);
  });

  it('answers no generated request with a 5xx, and a refused one changes no row', async () => {
    const seen = new Map<number, number>();
    await fc.assert(
      fc.asyncProperty(
        fc.constant(null).chain(() => attempt(userId)),
        async (target) => {
          const before = await digest();
          const answer = await send(target, await sign(target.token));
          seen.set(answer.status, (seen.get(answer.status) ?? 0) + 1);
          expect(answer.status, `${target.method} ${target.listener} ${target.path} → ${answer.text}`).toBeLessThan(500);
          if (answer.status >= 400) expect(await digest()).toEqual(before);
        },
      ),
      { numRuns: 300, seed: 20_261_126, endOnFailure: true },
    );
    // The run reached past authentication, not only its refusals.
    expect([...seen.keys()].some((status) => status < 300)).toBe(true);
    expect(seen.get(400) ?? 0).toBeGreaterThan(0);
    expect(seen.get(401) ?? 0).toBeGreaterThan(0);
  });

  it('logged no failure in the source or the consumer', () => {
    const failures = [system!.source, system!.consumer].flatMap((app) => app.logLines()).filter((line) => typeof line.level === 'number' && line.level >= 50);
    expect(failures).toEqual([]);
  });
});
