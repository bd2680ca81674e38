export { cacheMemberships, type LookupMembership, type Membership } from './membership-cache.ts';
export { isSubject, MAX_SUBJECT_LENGTH } from './subject.ts';
export { signToken, type TokenToSign } from './sign-token.ts';
export { requireRole, tenantAuthPlugin, type Role, type TenantAuthOptions, type TenantPrincipal } from './tenant-auth-plugin.ts';
export {
  createTokenVerifier,
  InvalidTokenError,
  tokenVerifierFromSettings,
  type JwtSettings,
  type TokenClaims,
  type TokenVerifierOptions,
  type VerifyToken,
} from './token-verifier.ts';
export { AUTH_ROLE_NOT_ALLOWED, AUTH_UNAUTHORIZED } from './errors.ts';
