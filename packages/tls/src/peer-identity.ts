import type { PeerCertificate } from 'node:tls';

export interface PeerIdentity {
  commonName: string | undefined;
  uris: string[];
  /** Whether the certificate may authenticate a TLS client (EKU clientAuth, or no EKU at all). */
  clientAuth: boolean;
}

const CLIENT_AUTH_OID = '1.3.6.1.5.5.7.3.2';

/** The identity a client certificate claims: its subject CN, its URI SANs and whether it is a client certificate. */
export function peerIdentity(certificate: PeerCertificate | undefined): PeerIdentity {
  const rawCommonName = certificate?.subject?.CN;
  const commonName = Array.isArray(rawCommonName) ? undefined : rawCommonName;
  const uris = (certificate?.subjectaltname ?? '')
    .split(', ')
    .filter((entry) => entry.startsWith('URI:'))
    .map((entry) => entry.slice('URI:'.length));
  const usages = (certificate as { ext_key_usage?: string[] } | undefined)?.ext_key_usage;
  return { commonName, uris, clientAuth: usages === undefined || usages.includes(CLIENT_AUTH_OID) };
}
