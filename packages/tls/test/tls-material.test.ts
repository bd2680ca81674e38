import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { daysUntilExpiry, loadTlsMaterial, TlsMaterialError } from '../src/index.ts';

const certs = path.resolve(import.meta.dirname, '../../../certs');
const scratch = mkdtempSync(path.join(tmpdir(), 'tls-test-'));
const openssl = (...args: string[]) => execFileSync('openssl', args, { stdio: 'ignore' });

function selfSignedCa(name: string): { crt: string; key: string } {
  const crt = path.join(scratch, `${name}.crt`);
  const key = path.join(scratch, `${name}.key`);
  openssl('req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-days', '2', '-subj', `/CN=${name}`, '-keyout', key, '-out', crt);
  return { crt, key };
}

afterAll(() => rmSync(scratch, { recursive: true, force: true }));

describe('loadTlsMaterial', () => {
  const files = { caFile: path.join(certs, 'ca.crt'), certFile: path.join(certs, 'source.crt'), keyFile: path.join(certs, 'source.key') };

  it('loads a certificate issued by the CA with its own key', () => {
    const material = loadTlsMaterial(files);
    expect(material.subject).toContain('CN=source');
    expect(daysUntilExpiry(material)).toBeGreaterThan(30);
  });

  it('refuses a certificate from another CA', () => {
    const other = selfSignedCa('other-ca');
    expect(() => loadTlsMaterial({ ...files, caFile: other.crt })).toThrow(TlsMaterialError);
  });

  it('refuses a key that does not belong to the certificate', () => {
    expect(() => loadTlsMaterial({ ...files, keyFile: path.join(certs, 'consumer.key') })).toThrow(/not the private key/);
  });

  it('refuses an expired certificate', () => {
    expect(() => loadTlsMaterial(files, new Date(Date.now() + 10 * 365 * 86_400_000))).toThrow(/not valid now/);
  });

  it('names the file it cannot read', () => {
    expect(() => loadTlsMaterial({ ...files, certFile: '/nonexistent.crt' })).toThrow(/nonexistent\.crt/);
  });
});
