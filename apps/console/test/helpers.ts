import { execFileSync } from 'node:child_process';
import { generateKeyPairSync } from 'node:crypto';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import pino from 'pino';
import { SignJWT } from 'jose';
import { Agent, request } from 'undici';
import { createKafka } from '@tenant-sync/kafka';
import { existingTopics, watermarks } from '@tenant-sync/operator';
import { certsDir } from '@tenant-sync/testing';

export const ca = readFileSync(path.join(certsDir, 'ca.crt'));
const certificate = (name: string) => ({ cert: readFileSync(path.join(certsDir, `${name}.crt`)), key: readFileSync(path.join(certsDir, `${name}.key`)) });

/** The development operator's client identity (spiffe://tenant-sync.local/operator). */
export const operatorCertificate = () => certificate('operator-client');
/** The consumer's client identity: from the right CA, but not an operator. */
export const consumerCertificate = () => certificate('consumer-client');

/**
 * A client certificate naming the operator's SPIFFE ID exactly, but issued by a CA of the
 * attacker's own: the console must not take the name without the chain.
 */
export function forgedOperatorCertificate(): { cert: Buffer; key: Buffer } {
  const dir = mkdtempSync(path.join(tmpdir(), 'console-forged-'));
  const openssl = (args: string[]) => execFileSync('openssl', args, { cwd: dir, stdio: ['ignore', 'pipe', 'pipe'] });
  openssl(['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-days', '2', '-subj', '/O=tenant-sync/CN=tenant-sync development CA', '-addext', 'basicConstraints=critical,CA:TRUE', '-addext', 'keyUsage=critical,keyCertSign', '-keyout', 'rogue.key', '-out', 'rogue.crt']);
  openssl(['req', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-subj', '/O=tenant-sync/CN=operator', '-keyout', 'op.key', '-out', 'op.csr']);
  writeFileSync(path.join(dir, 'op.ext'), 'basicConstraints=critical,CA:FALSE\nkeyUsage=critical,digitalSignature\nextendedKeyUsage=clientAuth\nsubjectAltName=URI:spiffe://tenant-sync.local/operator\n');
  openssl(['x509', '-req', '-in', 'op.csr', '-CA', 'rogue.crt', '-CAkey', 'rogue.key', '-CAcreateserial', '-days', '2', '-extfile', 'op.ext', '-out', 'op.crt']);
  return { cert: readFileSync(path.join(dir, 'op.crt')), key: readFileSync(path.join(dir, 'op.key')) };
}

/** A token with every claim right, signed by a key that is not the system's. */
export async function forgedToken(orgId: string, subject: string): Promise<string> {
  const { privateKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  return new SignJWT({ org_id: orgId, role: 'tenant_admin' })
    .setProtectedHeader({ alg: 'ES256', typ: 'JWT' })
    .setSubject(subject)
    .setIssuer('tenant-sync-dev')
    .setAudience('tenant-sync')
    .setIssuedAt()
    .setExpirationTime('5m')
    .sign(privateKey);
}

/** An HTTPS client of the console that verifies its certificate, optionally with a client certificate. */
export function consoleClient(base: string, identity?: { cert: Buffer; key: Buffer }) {
  const agent = new Agent({ connect: { ca, ...(identity ?? {}) } });
  return {
    async get(pathname: string, headers: Record<string, string> = {}) {
      const response = await request(new URL(pathname, base), { dispatcher: agent, headers: { accept: 'text/html', ...headers } });
      return { status: response.statusCode, headers: response.headers, body: await response.body.text() };
    },
    async post(pathname: string, form: Record<string, string>, headers: Record<string, string> = {}) {
      const response = await request(new URL(pathname, base), {
        method: 'POST',
        dispatcher: agent,
        headers: { 'content-type': 'application/x-www-form-urlencoded', accept: 'application/json', ...headers },
        body: new URLSearchParams(form).toString(),
      });
      return { status: response.statusCode, headers: response.headers, body: await response.body.text() };
    },
    close: () => agent.close(),
  };
}

/** Messages in `topics` in all (high watermarks summed); a topic not created yet holds none. */
export async function messagesIn(brokers: string, topics: string[]): Promise<number> {
  const kafka = createKafka({ brokers, clientId: 'console-test', logger: pino({ level: 'error' }) });
  let total = 0;
  for (const topic of await existingTopics(kafka, topics)) for (const { high } of await watermarks(kafka, topic)) total += Number(high);
  return total;
}
