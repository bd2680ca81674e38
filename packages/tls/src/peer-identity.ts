import type { PeerCertificate } from 'node:tls';

export interface PeerIdentity {
  commonName: string | undefined;
  uris: string[];
}

/** The identity a client certificate claims: its subject CN and its URI SANs. */
export function peerIdentity(certificate: PeerCertificate | undefined): PeerIdentity {
  const rawCommonName = certificate?.subject?.CN;
  const commonName = Array.isArray(rawCommonName) ? undefined : rawCommonName;
  const uris = (certificate?.subjectaltname ?? '')
    .split(', ')
    .filter((entry) => entry.startsWith('URI:'))
    .map((entry) => entry.slice('URI:'.length));
  return { commonName, uris };
}
