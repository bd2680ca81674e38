import type { SecureContextOptions } from 'node:tls';
import type { TlsMaterial } from './tls-material.ts';

/**
 * TLS 1.2 suites with forward secrecy and authenticated encryption (AEAD) only; TLS 1.3 has
 * nothing else. No CBC, no SHA-1 MAC, no static RSA key exchange.
 */
export const AEAD_CIPHERS = [
  'TLS_AES_128_GCM_SHA256',
  'TLS_AES_256_GCM_SHA384',
  'TLS_CHACHA20_POLY1305_SHA256',
  'ECDHE-ECDSA-AES128-GCM-SHA256',
  'ECDHE-ECDSA-AES256-GCM-SHA384',
  'ECDHE-ECDSA-CHACHA20-POLY1305',
  'ECDHE-RSA-AES128-GCM-SHA256',
  'ECDHE-RSA-AES256-GCM-SHA384',
  'ECDHE-RSA-CHACHA20-POLY1305',
].join(':');

/**
 * The secure-context options of every server listener: its certificate, TLS 1.2 or 1.3 with
 * AEAD suites only, and, with `verifyClients`, the CA that client certificates must chain to.
 * Used at start and on every certificate reload, so a reload never loosens the protocol.
 */
export function serverTlsOptions(material: TlsMaterial, { verifyClients = false } = {}): SecureContextOptions {
  return {
    key: material.key,
    cert: material.cert,
    ...(verifyClients ? { ca: material.ca } : {}),
    minVersion: 'TLSv1.2',
    ciphers: AEAD_CIPHERS,
    honorCipherOrder: true,
  };
}
