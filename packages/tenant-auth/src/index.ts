export { cacheMemberships, type LookupMembership, type Membership } from './membership-cache.ts';
export { requireRole, tenantAuthPlugin, type Role, type TenantAuthOptions, type TenantPrincipal } from './tenant-auth-plugin.ts';
export { createTokenVerifier, InvalidTokenError, type TokenClaims, type TokenVerifierOptions, type VerifyToken } from './token-verifier.ts';
