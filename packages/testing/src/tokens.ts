import { createPrivateKey } from 'node:crypto';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { SignJWT } from 'jose';
import { workspaceRoot } from '@tenant-sync/local-infra';

export const certsDir = path.join(workspaceRoot, 'certs');

export interface TokenOptions {
  orgId: string;
  subject: string;
  role?: string;
  issuer?: string;
  audience?: string;
  expiresIn?: string | number;
  notBefore?: string | number;
}

/** A JWT signed with the development key, valid unless the options say otherwise. */
export function mintToken({
  orgId,
  subject,
  role = 'tenant_admin',
  issuer = 'tenant-sync-dev',
  audience = 'tenant-sync',
  expiresIn = '5m',
  notBefore = '0s',
}: TokenOptions): Promise<string> {
  const key = createPrivateKey(readFileSync(path.join(certsDir, 'jwt-private.pem')));
  return new SignJWT({ org_id: orgId, role })
    .setProtectedHeader({ alg: 'ES256', typ: 'JWT' })
    .setSubject(subject)
    .setIssuer(issuer)
    .setAudience(audience)
    .setIssuedAt()
    .setNotBefore(notBefore)
    .setExpirationTime(expiresIn)
    .sign(key);
}
