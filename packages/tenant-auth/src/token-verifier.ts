import { createPublicKey } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { createRemoteJWKSet, jwtVerify, type JWTVerifyGetKey } from 'jose';
import { parseOrgId, type OrgId } from '@tenant-sync/contracts';
import { isSubject } from './subject.ts';

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
  /** Longest lifetime (`exp - iat`) and greatest age (`now - iat`) of a token, in seconds. */
  maxTokenAgeSeconds: number;
  /** Least time between two JWKS fetches, however many unknown `kid`s arrive (default 30 s). */
  jwksCooldownMs?: number | undefined;
}

export interface TokenClaims {
  subject: string;
  orgId: OrgId;
  /** The role the token asks for; the membership in the database decides what it gets. */
  role: string | undefined;
}

export type VerifyToken = (token: string) => Promise<TokenClaims>;

/** Rejections carry no detail for the caller: which check failed is logged, not returned. */
export class InvalidTokenError extends Error {
  readonly code = 'AUTH_INVALID_TOKEN';
}

const asymmetric = /^(RS|PS|ES)(256|384|512)$|^EdDSA$|^Ed25519$/;

/**
 * Access-token media types (RFC 9068 `at+jwt`, or plain `JWT`), compared as RFC 7515 says:
 * case-insensitively, with or without the `application/` prefix. A refresh or ID token is not
 * an access token, however valid its signature.
 */
const accessTokenTypes = new Set(['jwt', 'at+jwt']);
const isAccessTokenType = (typ: unknown) => typeof typ === 'string' && accessTokenTypes.has(typ.toLowerCase().replace(/^application\//, ''));

/**
 * A jose-based verifier: signature, `alg` allow-list, `typ`, `iss`, `aud`, `exp`, `nbf`, and
 * `iat` (required, not in the future, no older than `maxTokenAgeSeconds`); a token may not be
 * issued for longer than that either, so a leaked one is useless within that time.
 */
export function createTokenVerifier(options: TokenVerifierOptions): VerifyToken {
  const algorithms = options.algorithms.filter((alg) => asymmetric.test(alg));
  if (algorithms.length === 0) throw new Error('JWT_ALGORITHMS must name at least one asymmetric algorithm');
  const key: JWTVerifyGetKey | ReturnType<typeof createPublicKey> = options.jwksUrl
    ? createRemoteJWKSet(new URL(options.jwksUrl), { cooldownDuration: options.jwksCooldownMs ?? 30_000, cacheMaxAge: 600_000 })
    : createPublicKey(readFileSync(options.publicKeyFile));

  return async (token) => {
    let payload, protectedHeader;
    try {
      ({ payload, protectedHeader } = await jwtVerify(token, key as JWTVerifyGetKey, {
        issuer: options.issuer,
        audience: options.audience,
        algorithms,
        clockTolerance: options.clockToleranceSeconds,
        // Makes `iat` required and refuses it in the future or older than this (with the tolerance).
        maxTokenAge: options.maxTokenAgeSeconds,
        requiredClaims: ['exp', 'iat', 'sub', 'org_id'],
      }));
    } catch (error) {
      throw new InvalidTokenError((error as Error).message);
    }
    if (!isAccessTokenType(protectedHeader.typ)) throw new InvalidTokenError('typ header is not at+jwt or JWT');
    // jose has checked both are numbers; a lifetime beyond the maximum is refused even while fresh.
    if ((payload.exp as number) - (payload.iat as number) > options.maxTokenAgeSeconds) {
      throw new InvalidTokenError('token lifetime exceeds the maximum');
    }
    const orgId = parseOrgId(payload.org_id);
    if (!orgId) throw new InvalidTokenError('org_id claim is not a UUID');
    if (!isSubject(payload.sub)) throw new InvalidTokenError('sub claim is invalid');
    return { subject: payload.sub, orgId, role: typeof payload.role === 'string' ? payload.role : undefined };
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
  JWT_MAX_TOKEN_AGE_S: number;
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
    maxTokenAgeSeconds: settings.JWT_MAX_TOKEN_AGE_S,
  });
}
