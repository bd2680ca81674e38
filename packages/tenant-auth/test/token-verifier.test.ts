import { generateKeyPairSync, createPrivateKey, createSecretKey } from 'node:crypto';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { SignJWT, UnsecuredJWT } from 'jose';
import { describe, expect, it } from 'vitest';
import { createTokenVerifier, InvalidTokenError } from '../src/index.ts';

const certs = path.resolve(import.meta.dirname, '../../../certs');
const publicKeyFile = path.join(certs, 'jwt-public.pem');
const devKey = createPrivateKey(readFileSync(path.join(certs, 'jwt-private.pem')));
const verify = createTokenVerifier({
  publicKeyFile,
  issuer: 'tenant-sync-dev',
  audience: 'tenant-sync',
  algorithms: ['ES256'],
  clockToleranceSeconds: 5,
  maxTokenAgeSeconds: 3_600,
});
const orgId = '00000000-0000-0000-0000-000000000000';

interface Overrides {
  iss?: string;
  aud?: string;
  exp?: string | number;
  nbf?: string | number;
  iat?: number | null;
  org?: unknown;
  sub?: string;
  typ?: string | null;
}

const nowS = () => Math.floor(Date.now() / 1000);

function token(overrides: Overrides = {}, alg = 'ES256') {
  const typ = overrides.typ === undefined ? 'JWT' : overrides.typ;
  const jwt = new SignJWT({ org_id: 'org' in overrides ? overrides.org : orgId, role: 'member' })
    .setProtectedHeader(typ === null ? { alg } : { alg, typ })
    .setSubject(overrides.sub ?? 'default-admin')
    .setIssuer(overrides.iss ?? 'tenant-sync-dev')
    .setAudience(overrides.aud ?? 'tenant-sync');
  if (overrides.iat === undefined) jwt.setIssuedAt();
  else if (overrides.iat !== null) jwt.setIssuedAt(overrides.iat);
  if (overrides.nbf !== undefined) jwt.setNotBefore(overrides.nbf);
  if (overrides.exp !== undefined) jwt.setExpirationTime(overrides.exp);
  else jwt.setExpirationTime('5m');
  return jwt;
}

describe('createTokenVerifier', () => {
  it('accepts a valid token and takes the tenant from its claims', async () => {
    await expect(verify(await token().sign(devKey))).resolves.toEqual({ subject: 'default-admin', orgId, role: 'member' });
  });

  it('refuses alg none', async () => {
    const unsigned = new UnsecuredJWT({ org_id: orgId }).setSubject('x').setIssuer('tenant-sync-dev').setAudience('tenant-sync').setExpirationTime('5m').encode();
    await expect(verify(unsigned)).rejects.toBeInstanceOf(InvalidTokenError);
  });

  it('refuses a token signed with another key', async () => {
    const { privateKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
    await expect(verify(await token().sign(privateKey))).rejects.toBeInstanceOf(InvalidTokenError);
  });

  it('refuses an HS256 token whose secret is the public key (algorithm confusion)', async () => {
    const secret = createSecretKey(readFileSync(publicKeyFile));
    const forged = await token({}, 'HS256').sign(secret);
    await expect(verify(forged)).rejects.toBeInstanceOf(InvalidTokenError);
  });

  it.each([
    ['wrong issuer', { iss: 'someone-else' }],
    ['wrong audience', { aud: 'another-api' }],
    ['expired', { exp: Math.floor(Date.now() / 1000) - 60 }],
    ['not yet valid', { nbf: Math.floor(Date.now() / 1000) + 600 }],
    ['org_id not a UUID', { org: "x' OR 1=1 --" }],
    ['no org_id', { org: undefined }],
    ['no iat', { iat: null }],
    ['iat an hour in the future', { iat: nowS() + 3_600, exp: nowS() + 3_700 }],
    ['iat beyond the clock tolerance', { iat: nowS() + 30 }],
    ['iat older than the maximum age', { iat: nowS() - 3_700, exp: nowS() + 60 }],
    ['exp ten years ahead', { exp: nowS() + 10 * 365 * 86_400 }],
    ['a lifetime one second over the maximum', { iat: nowS(), exp: nowS() + 3_601 }],
    ['no typ header', { typ: null }],
    ['typ refresh+jwt', { typ: 'refresh+jwt' }],
    ['typ application/refresh+jwt', { typ: 'application/refresh+jwt' }],
    ['typ id_token+jwt', { typ: 'id_token+jwt' }],
    ['a sub holding NUL', { sub: 'default-admin\u0000' }],
    ['a sub holding a newline', { sub: 'default\nadmin' }],
    ['a sub of ..', { sub: '..' }],
    ['a sub of .', { sub: '.' }],
    ['a sub of 129 characters', { sub: 'a'.repeat(129) }],
    ['a sub with a lone surrogate', { sub: 'admin\ud800' }],
  ])('refuses a token with %s', async (_name, overrides) => {
    await expect(verify(await token(overrides).sign(devKey))).rejects.toBeInstanceOf(InvalidTokenError);
  });

  it.each(['JWT', 'jwt', 'at+jwt', 'AT+JWT', 'application/at+jwt', 'application/JWT'])('accepts the access token type %s', async (typ) => {
    await expect(verify(await token({ typ }).sign(devKey))).resolves.toMatchObject({ orgId });
  });

  it('accepts iat and a lifetime at the limits: within the clock tolerance, exactly the maximum', async () => {
    await expect(verify(await token({ iat: nowS() + 4 }).sign(devKey))).resolves.toMatchObject({ orgId });
    await expect(verify(await token({ iat: nowS(), exp: nowS() + 3_600 }).sign(devKey))).resolves.toMatchObject({ orgId });
    await expect(verify(await token({ sub: 'a'.repeat(128) }).sign(devKey))).resolves.toMatchObject({ subject: 'a'.repeat(128) });
  });

  it('requires exp', async () => {
    const noExp = await new SignJWT({ org_id: orgId })
      .setProtectedHeader({ alg: 'ES256', typ: 'JWT' })
      .setSubject('default-admin')
      .setIssuer('tenant-sync-dev')
      .setAudience('tenant-sync')
      .setIssuedAt()
      .sign(devKey);
    await expect(verify(noExp)).rejects.toBeInstanceOf(InvalidTokenError);
  });

  it('will not be configured with a symmetric algorithm only', () => {
    expect(() => createTokenVerifier({ publicKeyFile, issuer: 'i', audience: 'a', algorithms: ['HS256', 'none'], clockToleranceSeconds: 0, maxTokenAgeSeconds: 60 })).toThrow();
  });
});
