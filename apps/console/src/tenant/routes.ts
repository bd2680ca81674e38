import type { FastifyPluginAsync } from 'fastify';
import { decodeJwt } from 'jose';
import { requireRole, tenantAuthPlugin, type LookupMembership, type VerifyToken } from '@tenant-sync/tenant-auth';
import { isTenantsDeadLetter } from '@tenant-sync/operator';
import type { DeadLetterShelf } from '../dead-letter-scan.ts';
import type { EntityKind } from '../entity-types.ts';
import { signInPage } from '../pages/sign-in-page.ts';
import { tenantPage, type EntityOverview } from '../pages/tenant-page.ts';
import { compareCopies } from './compare-copies.ts';
import { clearedSessionCookie, sessionCookie, sessionToken } from './session.ts';
import type { TenantApis } from './tenant-apis.ts';

export interface TenantRoutesOptions {
  verifyToken: VerifyToken;
  lookupMembership: LookupMembership;
  apis: TenantApis;
  kinds: readonly EntityKind[];
  deadLetters: () => Promise<DeadLetterShelf[]>;
  refreshMs: number;
}

const MAX_DEAD_LETTERS_SHOWN = 50;

const bearer = (header: string | undefined) => /^Bearer (\S+)$/.exec(header ?? '')?.[1] ?? '';

/**
 * The tenant view and its sign-in. The view is a scope of its own under tenant-auth — the
 * checkpoints of :8001 (signature, issuer, audience, lifetime; an ACTIVE org; an ACTIVE
 * membership) — and the tenant_admin role; the token comes from the session cookie or an
 * Authorization header. Everything it shows is the tenant's: entities read with the tenant's
 * own token from :8001 and :8002, dead letters whose tenant header (and body) name the tenant.
 */
export const tenantRoutes: FastifyPluginAsync<TenantRoutesOptions> = async (app, options) => {
  const { verifyToken, lookupMembership, apis, kinds, deadLetters, refreshMs } = options;

  app.get('/sign-in', async (_request, reply) => reply.type('text/html').header('cache-control', 'no-store').send(signInPage()));

  app.post<{ Body: { token?: string } }>(
    '/sign-in',
    { schema: { body: { type: 'object', properties: { token: { type: 'string', maxLength: 16_384 } }, additionalProperties: false } } },
    async (request, reply) => {
      const token = (request.body?.token ?? '').trim();
      try {
        await verifyToken(token);
      } catch (error) {
        request.log.warn({ reason: (error as Error).message }, 'sign-in refused');
        return reply.code(401).type('text/html').header('cache-control', 'no-store').send(signInPage({ problem: 'This token is not valid here: check that it is whole, current and for this system.' }));
      }
      // Verified above: exp is present and in the future.
      const expiresIn = (decodeJwt(token).exp ?? 0) - Date.now() / 1_000;
      return reply.header('set-cookie', sessionCookie(token, expiresIn)).redirect('/', 303);
    },
  );

  app.post('/sign-out', async (_request, reply) => reply.header('set-cookie', clearedSessionCookie).redirect('/sign-in', 303));

  await app.register(async (view) => {
    view.addHook('onRequest', async (request, reply) => {
      const token = sessionToken(request.headers.cookie);
      if (request.headers.authorization === undefined && token) request.headers.authorization = `Bearer ${token}`;
      if (request.headers.authorization === undefined) return reply.redirect('/sign-in', 303);
    });
    // A cookie that no longer opens the view (expired, org suspended, member removed) is dropped.
    view.addHook('onSend', async (request, reply) => {
      if ((reply.statusCode === 401 || reply.statusCode === 403) && sessionToken(request.headers.cookie)) reply.header('set-cookie', clearedSessionCookie);
    });
    await view.register(tenantAuthPlugin, { verifyToken, lookupMembership });

    view.get('/', { preHandler: requireRole('tenant_admin') }, async (request, reply) => {
      const { orgId, subject } = request.principal;
      const token = bearer(request.headers.authorization);
      const now = new Date();
      const [entities, scanned] = await Promise.all([
        Promise.all(
          kinds.map(async (kind): Promise<EntityOverview> => {
            const [source, copy] = await Promise.all([apis.source(kind.sourcePath, orgId, token), apis.copy(kind.copyPath, orgId, token)]);
            return { kind, source, copy, comparison: compareCopies(source, copy, now) };
          }),
        ),
        deadLetters().then(
          (shelves) => ({ shelves, problem: null }),
          (error: unknown) => {
            request.log.warn({ err: error }, 'dead letters not readable');
            return { shelves: [], problem: 'Kafka does not answer' };
          },
        ),
      ]);
      const own = scanned.shelves
        .flatMap(({ kind, letters }) => letters.filter((letter) => isTenantsDeadLetter(letter, orgId)).map((letter) => ({ kind, letter })))
        .sort((a, b) => (b.letter.timestamp ?? 0) - (a.letter.timestamp ?? 0));
      return reply
        .type('text/html')
        .header('cache-control', 'no-store')
        .send(tenantPage({ orgId, subject, now, entities, deadLetters: own.slice(0, MAX_DEAD_LETTERS_SHOWN), deadLetterCount: own.length, deadLettersProblem: scanned.problem, refreshMs }));
    });
  });
};
