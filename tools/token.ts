// Prints a JWT signed with the development key:
//   npm run token -- --org <uuid> [--role member|tenant_admin] [--sub <id>] [--ttl <seconds>]
import { createPrivateKey } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { SignJWT } from 'jose';
import { loadSourceConfig } from '@tenant-sync/config';
import { DEFAULT_ORG_ID, DEMO_ORG_ID, isOrgId } from '@tenant-sync/contracts';

const seededAdmins: Record<string, string> = { [DEFAULT_ORG_ID]: 'default-admin', [DEMO_ORG_ID]: 'demo-admin' };

const { values } = parseArgs({
  options: {
    org: { type: 'string', default: DEFAULT_ORG_ID },
    role: { type: 'string', default: 'tenant_admin' },
    sub: { type: 'string' },
    ttl: { type: 'string', default: '3600' },
    key: { type: 'string' },
  },
});

function fail(message: string): never {
  console.error(`token: ${message}`);
  process.exit(2);
}

if (!isOrgId(values.org)) fail(`--org must be a UUID, got ${JSON.stringify(values.org)}`);
const subject = values.sub ?? seededAdmins[values.org.toLowerCase()];
if (!subject) fail('--sub is required for an organisation that setup did not seed');
const ttl = Number(values.ttl);
if (!Number.isInteger(ttl) || ttl <= 0) fail('--ttl must be a positive number of seconds');

const config = loadSourceConfig();
const keyFile = values.key ?? config.JWT_PUBLIC_KEY_FILE.replace(/jwt-public\.pem$/, 'jwt-private.pem');
const key = createPrivateKey(readFileSync(keyFile));

const token = await new SignJWT({ org_id: values.org.toLowerCase(), role: values.role })
  .setProtectedHeader({ alg: 'ES256', typ: 'JWT' })
  .setSubject(subject)
  .setIssuer(config.JWT_ISSUER)
  .setAudience(config.JWT_AUDIENCE)
  .setIssuedAt()
  .setNotBefore('0s')
  .setExpirationTime(`${ttl}s`)
  .sign(key);

console.log(token);
