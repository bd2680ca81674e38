export { TlsMaterialError } from './errors.ts';
export { peerIdentity, type PeerIdentity } from './peer-identity.ts';
export { daysUntilExpiry, loadTlsMaterial, type TlsFiles, type TlsMaterial } from './tls-material.ts';
export { checkExpiry, watchTlsMaterial, type TlsLogger, type TlsWatcher, type WatchTlsOptions } from './watch-tls-material.ts';
export { AEAD_CIPHERS, serverTlsOptions } from './server-options.ts';
