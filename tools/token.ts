// Prints a JWT signed with the development key (see usage below).
import { createPrivateKey } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { configOrExit, loadSourceConfig } from '@tenant-sync/config';
import { DEFAULT_ORG_ID, DEMO_ORG_ID, isOrgId } from '@tenant-sync/contracts';
import { signToken } from '@tenant-sync/tenant-auth';

const usage = `usage: npm run token -- [--org <uuid>] [--role member|tenant_admin] [--sub <subject>] [--ttl <seconds>] [--key <private-key.pem>]

Prints an access token (typ JWT) signed with the development key.
  --org   organisation id (default ${DEFAULT_ORG_ID})
  --role  member or tenant_admin (default tenant_admin)
  --sub   subject; defaults to the seeded admin of the two development organisations
  --ttl   lifetime in seconds, at most JWT_MAX_TOKEN_AGE_S (default 3600, or that maximum if lower)
  --key   private key file (default: jwt-private.pem next to JWT_PUBLIC_KEY_FILE)`;

const seededAdmins: Record<string, string> = { [DEFAULT_ORG_ID]: 'default-admin', [DEMO_ORG_ID]: 'demo-admin' };
const roles = ['member', 'tenant_admin'];

function fail(message: string): never {
  console.error(`token: ${message} (--help for usage)`);
  process.exit(2);
}

let values;
try {
  ({ values } = parseArgs({
    options: {
      org: { type: 'string', default: DEFAULT_ORG_ID },
      role: { type: 'string', default: 'tenant_admin' },
      sub: { type: 'string' },
      ttl: { type: 'string' },
      key: { type: 'string' },
      help: { type: 'boolean', short: 'h' },
    },
  }));
} catch (error) {
  fail((error as Error).message.split('\n')[0] ?? 'invalid arguments');
}

if (values.help) {
  console.log(usage);
  process.exit(0);
}

const config = configOrExit('token', () => loadSourceConfig());
const maxTtl = config.JWT_MAX_TOKEN_AGE_S;

if (!isOrgId(values.org)) fail(`--org must be a UUID, got ${JSON.stringify(values.org)}`);
if (!roles.includes(values.role)) fail(`--role must be one of ${roles.join(', ')}, got ${JSON.stringify(values.role)}`);
const subject = values.sub ?? seededAdmins[values.org.toLowerCase()];
if (!subject) fail('--sub is required for an organisation that setup did not seed');
const ttl = values.ttl === undefined ? Math.min(3_600, maxTtl) : Number(values.ttl);
if (!Number.isInteger(ttl) || ttl <= 0) fail('--ttl must be a positive number of seconds');
// The apps refuse a token that lives longer, so printing one would only defer the error.
if (ttl > maxTtl) fail(`--ttl must be at most ${maxTtl} seconds (JWT_MAX_TOKEN_AGE_S)`);

const keyFile = values.key ?? config.JWT_PUBLIC_KEY_FILE.replace(/jwt-public\.pem$/, 'jwt-private.pem');
let key;
try {
  key = createPrivateKey(readFileSync(keyFile));
} catch (error) {
  console.error(`token: cannot read the signing key ${keyFile}: ${(error as Error).message.split('\n')[0]}`);
  process.exit(1);
}

const token = await signToken({
  key,
  orgId: values.org.toLowerCase(),
  subject,
  role: values.role,
  issuer: config.JWT_ISSUER,
  audience: config.JWT_AUDIENCE,
  expiresIn: ttl,
});

console.log(token);
