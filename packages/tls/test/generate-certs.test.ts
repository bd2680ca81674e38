import { execFileSync } from 'node:child_process';
import { X509Certificate } from 'node:crypto';
import { copyFileSync, mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
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
    for (const name of ['ca.key', 'source.key', 'consumer.key', 'jwt-private.pem']) {
      expect((statSync(file(name)).mode & 0o777).toString(8), name).toBe('600');
    }
  });

  it('issues both service certificates from the one CA', () => {
    for (const name of ['source', 'consumer']) {
      expect(() => loadTlsMaterial({ caFile: file('ca.crt'), certFile: file(`${name}.crt`), keyFile: file(`${name}.key`) })).not.toThrow();
    }
  });

  it('names the server for the hosts it is reached by, and the client by its identity', () => {
    const source = certificate('source.crt');
    expect(source.subject).toContain('CN=source');
    expect(source.subjectAltName).toBe('DNS:localhost, DNS:source, IP Address:127.0.0.1, IP Address:0:0:0:0:0:0:0:1');
    expect(source.checkHost('localhost')).toBe('localhost');
    const consumer = certificate('consumer.crt');
    expect(consumer.subject).toContain('CN=consumer');
    expect(consumer.subjectAltName).toContain('URI:spiffe://tenant-sync/consumer');
    expect(execFileSync('openssl', ['x509', '-in', file('consumer.crt'), '-noout', '-ext', 'extendedKeyUsage']).toString()).toMatch(
      /TLS Web Client Authentication/,
    );
  });

  it('keeps valid files when run again', () => {
    const before = readFileSync(file('source.crt'));
    execFileSync('bash', [file('generate.sh')], { stdio: 'pipe', timeout: 60_000 });
    expect(readFileSync(file('source.crt')).equals(before)).toBe(true);
  });
});
