import { createPrivateKey, X509Certificate } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { TlsMaterialError } from './errors.ts';

export interface TlsFiles {
  caFile: string;
  certFile: string;
  keyFile: string;
}

export interface TlsMaterial {
  ca: Buffer;
  cert: Buffer;
  key: Buffer;
  /** When the certificate stops being valid. */
  notAfter: Date;
  subject: string;
}

/**
 * Reads a certificate, its key and the CA, and checks that they belong together: the
 * certificate is issued by the CA, is valid now, and matches the key. Refusing to start with
 * bad material beats failing every handshake later.
 */
export function loadTlsMaterial({ caFile, certFile, keyFile }: TlsFiles, now = new Date()): TlsMaterial {
  const ca = read(caFile, 'CA certificate');
  const cert = read(certFile, 'certificate');
  const key = read(keyFile, 'private key');
  const caCert = new X509Certificate(ca);
  const x509 = new X509Certificate(cert);
  if (!x509.checkIssued(caCert) || !x509.verify(caCert.publicKey)) {
    throw new TlsMaterialError(`${certFile} is not signed by the CA in ${caFile}`);
  }
  const notBefore = new Date(x509.validFrom);
  const notAfter = new Date(x509.validTo);
  if (now < notBefore || now > notAfter) {
    throw new TlsMaterialError(`${certFile} is not valid now (valid ${notBefore.toISOString()} – ${notAfter.toISOString()})`);
  }
  if (!x509.checkPrivateKey(createPrivateKey(key))) {
    throw new TlsMaterialError(`${keyFile} is not the private key of ${certFile}`);
  }
  return { ca, cert, key, notAfter, subject: x509.subject };
}

function read(file: string, what: string): Buffer {
  try {
    return readFileSync(file);
  } catch (error) {
    throw new TlsMaterialError(`cannot read the ${what} ${file}: ${(error as Error).message}`);
  }
}

/** Days left before `material` expires. */
export function daysUntilExpiry(material: TlsMaterial, now = new Date()): number {
  return Math.floor((material.notAfter.getTime() - now.getTime()) / 86_400_000);
}
