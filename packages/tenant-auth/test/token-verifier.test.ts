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
});
const orgId = '00000000-0000-0000-0000-000000000000';

function token(overrides: { iss?: string; aud?: string; exp?: string | number; nbf?: string | number; org?: unknown } = {}, alg = 'ES256') {
  const jwt = new SignJWT({ org_id: 'org' in overrides ? overrides.org : orgId, role: 'member' })
    .setProtectedHeader({ alg })
    .setSubject('default-admin')
    .setIssuer(overrides.iss ?? 'tenant-sync-dev')
    .setAudience(overrides.aud ?? 'tenant-sync')
    .setIssuedAt();
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
  ])('refuses a token with %s', async (_name, overrides) => {
    await expect(verify(await token(overrides).sign(devKey))).rejects.toBeInstanceOf(InvalidTokenError);
  });

  it('requires exp', async () => {
    const noExp = await new SignJWT({ org_id: orgId })
      .setProtectedHeader({ alg: 'ES256' })
      .setSubject('default-admin')
      .setIssuer('tenant-sync-dev')
      .setAudience('tenant-sync')
      .sign(devKey);
    await expect(verify(noExp)).rejects.toBeInstanceOf(InvalidTokenError);
  });

  it('will not be configured with a symmetric algorithm only', () => {
    expect(() => createTokenVerifier({ publicKeyFile, issuer: 'i', audience: 'a', algorithms: ['HS256', 'none'], clockToleranceSeconds: 0 })).toThrow();
  });
});
