import { createPublicKey } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { createRemoteJWKSet, jwtVerify, type JWTVerifyGetKey } from 'jose';
import { isOrgId } from '@tenant-sync/contracts';

export interface TokenVerifierOptions {
  /** PEM public key (development); ignored when `jwksUrl` is set. */
  publicKeyFile: string;
  /** JWKS endpoint of the identity provider: keys are cached and refetched on an unknown `kid`. */
  jwksUrl?: string | undefined;
  issuer: string;
  audience: string;
  /** Allowed `alg` values; `none` and HMAC algorithms are never accepted. */
  algorithms: string[];
  clockToleranceSeconds: number;
  /** Least time between two JWKS fetches, however many unknown `kid`s arrive (default 30 s). */
  jwksCooldownMs?: number | undefined;
}

export interface TokenClaims {
  subject: string;
  orgId: string;
  /** The role the token asks for; the membership in the database decides what it gets. */
  role: string | undefined;
}

export type VerifyToken = (token: string) => Promise<TokenClaims>;

/** Rejections carry no detail for the caller: which check failed is logged, not returned. */
export class InvalidTokenError extends Error {
  readonly code = 'AUTH_INVALID_TOKEN';
}

const asymmetric = /^(RS|PS|ES)(256|384|512)$|^EdDSA$|^Ed25519$/;

/** A jose-based verifier: signature, `alg` allow-list, `iss`, `aud`, `exp` (required), `nbf`. */
export function createTokenVerifier(options: TokenVerifierOptions): VerifyToken {
  const algorithms = options.algorithms.filter((alg) => asymmetric.test(alg));
  if (algorithms.length === 0) throw new Error('JWT_ALGORITHMS must name at least one asymmetric algorithm');
  const key: JWTVerifyGetKey | ReturnType<typeof createPublicKey> = options.jwksUrl
    ? createRemoteJWKSet(new URL(options.jwksUrl), { cooldownDuration: options.jwksCooldownMs ?? 30_000, cacheMaxAge: 600_000 })
    : createPublicKey(readFileSync(options.publicKeyFile));

  return async (token) => {
    let payload;
    try {
      ({ payload } = await jwtVerify(token, key as JWTVerifyGetKey, {
        issuer: options.issuer,
        audience: options.audience,
        algorithms,
        clockTolerance: options.clockToleranceSeconds,
        requiredClaims: ['exp', 'sub', 'org_id'],
      }));
    } catch (error) {
      throw new InvalidTokenError((error as Error).message);
    }
    const orgId = payload.org_id;
    if (!isOrgId(orgId)) throw new InvalidTokenError('org_id claim is not a UUID');
    if (typeof payload.sub !== 'string' || payload.sub.length === 0 || payload.sub.length > 200) {
      throw new InvalidTokenError('sub claim is invalid');
    }
    return { subject: payload.sub, orgId: orgId.toLowerCase(), role: typeof payload.role === 'string' ? payload.role : undefined };
  };
}

/** JWT settings as every app's config names them. */
export interface JwtSettings {
  JWT_PUBLIC_KEY_FILE: string;
  JWT_JWKS_URL?: string | undefined;
  JWT_ISSUER: string;
  JWT_AUDIENCE: string;
  /** Comma-separated `alg` allow-list. */
  JWT_ALGORITHMS: string;
  JWT_CLOCK_TOLERANCE_S: number;
}

/** `createTokenVerifier` configured from an app's JWT settings. */
export function tokenVerifierFromSettings(settings: JwtSettings): VerifyToken {
  return createTokenVerifier({
    publicKeyFile: settings.JWT_PUBLIC_KEY_FILE,
    jwksUrl: settings.JWT_JWKS_URL,
    issuer: settings.JWT_ISSUER,
    audience: settings.JWT_AUDIENCE,
    algorithms: settings.JWT_ALGORITHMS.split(',').map((alg) => alg.trim()),
    clockToleranceSeconds: settings.JWT_CLOCK_TOLERANCE_S,
  });
}
