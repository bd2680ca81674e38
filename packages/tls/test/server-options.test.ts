import { createServer, type Server } from 'node:https';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { connect, type ConnectionOptions } from 'node:tls';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadTlsMaterial, serverTlsOptions } from '../src/index.ts';

const certs = path.resolve(import.meta.dirname, '../../../certs');
const material = loadTlsMaterial({ caFile: path.join(certs, 'ca.crt'), certFile: path.join(certs, 'source.crt'), keyFile: path.join(certs, 'source.key') });

describe('serverTlsOptions', () => {
  let server: Server;
  let port: number;
  beforeAll(async () => {
    server = createServer(serverTlsOptions(material), (_request, response) => response.end('ok'));
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    port = (server.address() as AddressInfo).port;
  });
  afterAll(() => new Promise<void>((resolve) => server.close(() => resolve())));

  /** A TLS handshake with `options`: the protocol and suite agreed, or the error. */
  const handshake = (options: ConnectionOptions) =>
    new Promise<string>((resolve) => {
      const socket = connect({ host: '127.0.0.1', port, servername: 'localhost', ca: material.ca, ...options }, () => {
        resolve(`${socket.getProtocol()} ${socket.getCipher().standardName}`);
        socket.end();
      });
      socket.once('error', (error) => resolve(`refused: ${error.message}`));
    });

  it('speaks TLS 1.3, and TLS 1.2 with ECDHE and AEAD suites only', async () => {
    expect(await handshake({})).toMatch(/^TLSv1\.3 TLS_(AES_\d+_GCM_SHA\d+|CHACHA20_POLY1305_SHA256)$/);
    expect(await handshake({ maxVersion: 'TLSv1.2' })).toMatch(/^TLSv1\.2 TLS_ECDHE_ECDSA_WITH_(AES_\d+_GCM_SHA\d+|CHACHA20_POLY1305_SHA256)$/);
  });

  it.each([
    ['a CBC suite with a SHA-1 MAC', 'ECDHE-ECDSA-AES256-SHA'],
    ['a CBC suite with SHA-256', 'ECDHE-ECDSA-AES128-SHA256'],
    ['static RSA key exchange', 'AES128-GCM-SHA256'],
  ])('refuses TLS 1.2 with %s', async (_name, ciphers) => {
    expect(await handshake({ maxVersion: 'TLSv1.2', ciphers })).toMatch(/^refused/);
  });

  it('refuses TLS 1.1 and older', async () => {
    expect(await handshake({ minVersion: 'TLSv1', maxVersion: 'TLSv1.1' })).toMatch(/^refused/);
  });
});
