import { execFileSync } from 'node:child_process';
import { chmodSync, writeFileSync } from 'node:fs';
import path from 'node:path';

export interface IssuedCertificate {
  certFile: string;
  /** Unencrypted PKCS#8 key, mode 0600. */
  keyFile: string;
}

export interface TestCertificateAuthority {
  caFile: string;
  /** A certificate for `subjectAltNames` (e.g. `DNS:localhost`, `IP:127.0.0.1`), signed by this CA. */
  issue(name: string, subjectAltNames: string[], usage?: 'serverAuth' | 'clientAuth'): IssuedCertificate;
}

const openssl = (args: string[]) => execFileSync('openssl', args, { stdio: ['ignore', 'pipe', 'pipe'] });

/**
 * A throw-away CA in `dir`, made with openssl the way certs/generate.sh makes the development
 * one (EC P-256, SHA-256), for tests that need a server certificate of their own: a TLS broker,
 * a PostgreSQL with `ssl = on`, or a second CA that must not be trusted.
 */
export function createTestCertificateAuthority(dir: string, name = 'test-ca'): TestCertificateAuthority {
  const caFile = path.join(dir, `${name}.crt`);
  const caKey = path.join(dir, `${name}.key`);
  openssl([
    'req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-sha256', '-days', '2',
    '-subj', `/O=tenant-sync tests/CN=${name}`,
    '-addext', 'basicConstraints=critical,CA:TRUE', '-addext', 'keyUsage=critical,keyCertSign,cRLSign',
    '-keyout', caKey, '-out', caFile,
  ]);
  return {
    caFile,
    issue(leaf, subjectAltNames, usage = 'serverAuth') {
      const certFile = path.join(dir, `${leaf}.crt`);
      const keyFile = path.join(dir, `${leaf}.key`);
      const csr = path.join(dir, `${leaf}.csr`);
      const extensions = path.join(dir, `${leaf}.ext`);
      openssl(['req', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-sha256', '-subj', `/O=tenant-sync tests/CN=${leaf}`, '-keyout', keyFile, '-out', csr]);
      writeFileSync(
        extensions,
        `basicConstraints=critical,CA:FALSE\nkeyUsage=critical,digitalSignature,keyEncipherment\nextendedKeyUsage=${usage}\nsubjectAltName=${subjectAltNames.join(',')}\n`,
      );
      openssl(['x509', '-req', '-in', csr, '-CA', caFile, '-CAkey', caKey, '-CAcreateserial', '-sha256', '-days', '2', '-extfile', extensions, '-out', certFile]);
      chmodSync(keyFile, 0o600);
      return { certFile, keyFile };
    },
  };
}
