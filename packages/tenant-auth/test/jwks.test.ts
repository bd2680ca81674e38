import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { exportJWK, generateKeyPair, SignJWT, type CryptoKey, type JWK } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTokenVerifier, InvalidTokenError } from '../src/index.ts';

const orgId = '00000000-0000-0000-0000-000000000000';

/** An identity provider's JWKS endpoint whose key set the test rotates. */
describe('createTokenVerifier with a JWKS URL', () => {
  let keys: JWK[] = [];
  let fetches = 0;
  const server = createServer((_request, response) => {
    fetches += 1;
    response.writeHead(200, { 'content-type': 'application/json' });
    response.end(JSON.stringify({ keys }));
  });
  let url: string;
  const signer = async (kid: string) => {
    const { privateKey, publicKey } = await generateKeyPair('ES256');
    const jwk = { ...(await exportJWK(publicKey)), kid, alg: 'ES256', use: 'sig' };
    return { jwk, sign: (key: CryptoKey = privateKey) => signed(kid, key) };
  };
  const signed = (kid: string, key: CryptoKey) =>
    new SignJWT({ org_id: orgId })
      .setProtectedHeader({ alg: 'ES256', kid, typ: 'at+jwt' })
      .setSubject('default-admin')
      .setIssuer('https://idp.test')
      .setAudience('tenant-sync')
      .setIssuedAt()
      .setExpirationTime('5m')
      .sign(key);

  beforeAll(async () => {
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/.well-known/jwks.json`;
  });
  afterAll(() => new Promise((resolve) => server.close(resolve)));

  it('verifies with the published keys, caches them, refetches on an unknown kid after rotation, and trusts no key a token brings', async () => {
    const verify = createTokenVerifier({
      publicKeyFile: path.join('/nonexistent', 'unused.pem'),
      jwksUrl: url,
      issuer: 'https://idp.test',
      audience: 'tenant-sync',
      algorithms: ['ES256'],
      clockToleranceSeconds: 5,
      maxTokenAgeSeconds: 3_600,
      // jose waits this long after a fetch before another; 30 s in production, none here.
      jwksCooldownMs: 0,
    });
    const first = await signer('key-1');
    keys = [first.jwk];
    await expect(verify(await first.sign())).resolves.toMatchObject({ orgId, subject: 'default-admin' });
    await expect(verify(await first.sign())).resolves.toMatchObject({ orgId });
    expect(fetches).toBe(1);

    // The provider rotates: a token with the new kid makes the verifier fetch the set again.
    const second = await signer('key-2');
    keys = [first.jwk, second.jwk];
    await expect(verify(await second.sign())).resolves.toMatchObject({ orgId });
    expect(fetches).toBe(2);

    // A token claiming a published kid but signed with another key is still refused.
    const impostor = await generateKeyPair('ES256');
    await expect(verify(await signed('key-2', impostor.privateKey))).rejects.toBeInstanceOf(InvalidTokenError);

    // Keys the token brings along itself are never trusted: an embedded jwk, or a jku/x5u to fetch.
    const attackerJwk = await exportJWK(impostor.publicKey);
    const selfVouched = await new SignJWT({ org_id: orgId })
      .setProtectedHeader({ alg: 'ES256', typ: 'at+jwt', kid: 'key-3', jwk: attackerJwk, jku: 'http://127.0.0.1:1/evil.json', x5u: 'http://127.0.0.1:1/evil.pem' })
      .setSubject('default-admin')
      .setIssuer('https://idp.test')
      .setAudience('tenant-sync')
      .setIssuedAt()
      .setExpirationTime('5m')
      .sign(impostor.privateKey);
    await expect(verify(selfVouched)).rejects.toBeInstanceOf(InvalidTokenError);
  });
});
