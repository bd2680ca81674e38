import type { FastifyInstance, FastifyReply, FastifyRequest, preHandlerHookHandler } from 'fastify';
import fp from 'fastify-plugin';
import { parseOrgId, TENANT_HEADER, type OrgId } from '@tenant-sync/contracts';
import type { LookupMembership } from './membership-cache.ts';
import type { VerifyToken } from './token-verifier.ts';
import { AUTH_ROLE_NOT_ALLOWED, AUTH_UNAUTHORIZED } from './errors.ts';

export type Role = 'member' | 'tenant_admin';

/** Who is calling, established by the token and confirmed by the database. */
export interface TenantPrincipal {
  orgId: OrgId;
  subject: string;
  role: Role;
}

export interface TenantAuthOptions {
  verifyToken: VerifyToken;
  lookupMembership: LookupMembership;
}

declare module 'fastify' {
  interface FastifyRequest {
    /** Set by tenant-auth on every route of a scope that registers it. */
    principal: TenantPrincipal;
  }
  interface FastifyContextConfig {
    /** Routes that answer without a token (health). */
    public?: boolean;
  }
}

/**
 * Authenticates every route of the scope it is registered in: a bearer JWT verified by
 * `verifyToken`, the tenant taken from its `org_id` claim (an `X-Tenant-ID` header must equal
 * it), an ACTIVE organisation and an ACTIVE membership. Any failure is the same `401`, so a
 * caller cannot tell which check refused it; the reason is logged.
 */
async function tenantAuth(scope: FastifyInstance, options: TenantAuthOptions) {
  scope.decorateRequest('principal', null as unknown as TenantPrincipal);

  scope.addHook('onRequest', async (request: FastifyRequest, reply: FastifyReply) => {
    if (request.routeOptions.config?.public) return;
    const reason = await authenticate(request, options);
    if (reason) {
      request.log.warn({ reason }, 'request refused: unauthenticated');
      throw new AUTH_UNAUTHORIZED();
    }
    // Every later line of this request, the completion line included, names its tenant.
    request.log = reply.log = request.log.child({ tenantId: request.principal.orgId });
  });
}

async function authenticate(request: FastifyRequest, { verifyToken, lookupMembership }: TenantAuthOptions): Promise<string | null> {
  const header = request.headers.authorization;
  const match = typeof header === 'string' ? /^Bearer ([A-Za-z0-9_-]+\.[A-Za-z0-9_-]*\.[A-Za-z0-9_-]*)$/.exec(header) : null;
  if (!match?.[1]) return 'missing or malformed bearer token';
  let claims;
  try {
    claims = await verifyToken(match[1]);
  } catch (error) {
    return `token rejected: ${(error as Error).message}`;
  }
  const tenantHeader = request.headers[TENANT_HEADER];
  if (tenantHeader !== undefined && parseOrgId(tenantHeader) !== claims.orgId) {
    return 'X-Tenant-ID does not match the token org_id';
  }
  const membership = await lookupMembership(claims.orgId, claims.subject);
  if (!membership || membership.orgStatus !== 'ACTIVE') return 'organisation unknown or not active';
  if (membership.memberStatus !== 'ACTIVE' || (membership.role !== 'member' && membership.role !== 'tenant_admin')) {
    return 'subject is not an active member of the organisation';
  }
  request.principal = { orgId: claims.orgId, subject: claims.subject, role: membership.role };
  return null;
}

/** A preHandler that answers `403` unless the principal holds `role`. */
export function requireRole(role: Role): preHandlerHookHandler {
  return async (request) => {
    if (request.principal.role !== role) {
      request.log.warn({ required: role, role: request.principal.role }, 'request refused: role not allowed');
      throw new AUTH_ROLE_NOT_ALLOWED();
    }
  };
}

export const tenantAuthPlugin = fp(tenantAuth, { name: 'tenant-auth', fastify: '5.x' });
