import { createPrivateKey } from 'node:crypto';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { signToken } from '@tenant-sync/tenant-auth';
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
  /** `iat` in seconds since the epoch (now by default); `null` leaves it out. */
  issuedAt?: number | null;
  /** The `typ` header (`JWT` by default); `null` leaves it out. */
  type?: string | null;
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
  issuedAt,
  type = 'JWT',
}: TokenOptions): Promise<string> {
  const key = createPrivateKey(readFileSync(path.join(certsDir, 'jwt-private.pem')));
  return signToken({ key, orgId, subject, role, issuer, audience, expiresIn, notBefore, issuedAt, type });
}
