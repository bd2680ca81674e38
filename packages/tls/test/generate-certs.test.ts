import { execFileSync } from 'node:child_process';
import { X509Certificate } from 'node:crypto';
import { copyFileSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadTlsMaterial } from '../src/index.ts';

const script = path.resolve(import.meta.dirname, '../../../certs/generate.sh');

/** certs/generate.sh run in an empty directory of its own: what a fresh machine gets. */
describe('certs/generate.sh', () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'generate-certs-'));
  const file = (name: string) => path.join(dir, name);
  const certificate = (name: string) => new X509Certificate(readFileSync(file(name)));

  beforeAll(() => {
    copyFileSync(script, file('generate.sh'));
    execFileSync('bash', [file('generate.sh')], { stdio: 'pipe', timeout: 60_000 });
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('writes every private key readable by its owner only (0600)', () => {
    for (const name of ['ca.key', 'source.key', 'consumer.key', 'consumer-client.key', 'jwt-private.pem']) {
      expect((statSync(file(name)).mode & 0o777).toString(8), name).toBe('600');
    }
  });

  it('issues every service certificate from the one CA', () => {
    for (const name of ['source', 'consumer', 'consumer-client']) {
      expect(() => loadTlsMaterial({ caFile: file('ca.crt'), certFile: file(`${name}.crt`), keyFile: file(`${name}.key`) })).not.toThrow();
    }
  });

  it('names the server for the hosts it is reached by, and the client by its identity', () => {
    const source = certificate('source.crt');
    expect(source.subject).toContain('CN=source');
    expect(source.subjectAltName).toBe('DNS:localhost, DNS:source, IP Address:127.0.0.1, IP Address:0:0:0:0:0:0:0:1');
    expect(source.checkHost('localhost')).toBe('localhost');
    const usage = (name: string) => execFileSync('openssl', ['x509', '-in', file(name), '-noout', '-ext', 'extendedKeyUsage']).toString().split('\n')[1]?.trim();
    // The consumer's :8002 certificate serves, and only serves: it is no identity on :8441.
    const consumer = certificate('consumer.crt');
    expect(consumer.subjectAltName).toBe('DNS:localhost, DNS:consumer, IP Address:127.0.0.1, IP Address:0:0:0:0:0:0:0:1');
    expect(usage('consumer.crt')).toBe('TLS Web Server Authentication');
    // Its client identity is the SPIFFE ID, in a certificate for clients only.
    const client = certificate('consumer-client.crt');
    expect(client.subjectAltName).toBe('URI:spiffe://tenant-sync.local/consumer');
    expect(usage('consumer-client.crt')).toBe('TLS Web Client Authentication');
    expect(client.publicKey.equals(consumer.publicKey)).toBe(false);
  });

  it('re-issues a certificate made for another usage, such as the consumer certificate that was once also its client identity', () => {
    const openssl = (...args: string[]) => execFileSync('openssl', args, { cwd: dir, stdio: 'pipe', timeout: 20_000 });
    openssl('req', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-subj', '/O=tenant-sync/CN=consumer', '-keyout', 'consumer.key', '-out', 'old.csr');
    writeFileSync(file('old.ext'), 'extendedKeyUsage=serverAuth,clientAuth\nsubjectAltName=DNS:localhost,URI:spiffe://tenant-sync/consumer\n');
    openssl('x509', '-req', '-in', 'old.csr', '-CA', 'ca.crt', '-CAkey', 'ca.key', '-set_serial', '7', '-days', '300', '-extfile', 'old.ext', '-out', 'consumer.crt');
    rmSync(file('consumer.profile'));
    execFileSync('bash', [file('generate.sh')], { stdio: 'pipe', timeout: 60_000 });
    expect(execFileSync('openssl', ['x509', '-in', file('consumer.crt'), '-noout', '-ext', 'extendedKeyUsage']).toString()).not.toMatch(/Client/);
  });

  it('keeps valid files when run again', () => {
    const before = readFileSync(file('source.crt'));
    execFileSync('bash', [file('generate.sh')], { stdio: 'pipe', timeout: 60_000 });
    expect(readFileSync(file('source.crt')).equals(before)).toBe(true);
  });
});
