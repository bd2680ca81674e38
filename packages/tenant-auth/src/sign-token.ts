import type { KeyObject } from 'node:crypto';
import { SignJWT } from 'jose';

export interface TokenToSign {
  /** The key the verifier's public key (or JWKS) answers to; ES256. */
  key: KeyObject;
  orgId: string;
  subject: string;
  role: string;
  issuer: string;
  audience: string;
  /** Lifetime: seconds, or a jose time span such as `'5m'`. */
  expiresIn: string | number;
  notBefore?: string | number;
  /** `iat` in seconds since the epoch (now by default); `null` leaves it out. */
  issuedAt?: number | null;
  /** The `typ` header (`JWT` by default); `null` leaves it out. */
  type?: string | null;
}

/**
 * An access token in the shape the token verifier accepts: ES256, `typ: JWT`, `sub`, `org_id`,
 * `role`, `iss`, `aud`, `iat`, `nbf` and `exp`. The one place tokens are made —
 * the development CLI (`npm run token`) and the tests — so the two cannot drift from what the
 * apps check.
 */
export function signToken({ key, orgId, subject, role, issuer, audience, expiresIn, notBefore = '0s', issuedAt, type = 'JWT' }: TokenToSign): Promise<string> {
  const jwt = new SignJWT({ org_id: orgId, role })
    .setProtectedHeader(type === null ? { alg: 'ES256' } : { alg: 'ES256', typ: type })
    .setSubject(subject)
    .setIssuer(issuer)
    .setAudience(audience)
    .setNotBefore(notBefore)
    .setExpirationTime(typeof expiresIn === 'number' ? `${expiresIn}s` : expiresIn);
  if (issuedAt !== null) jwt.setIssuedAt(issuedAt);
  return jwt.sign(key);
}
