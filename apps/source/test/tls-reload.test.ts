import { execFileSync } from 'node:child_process';
import { copyFileSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { connect } from 'node:tls';
import { afterAll, beforeAll, describe, expect, it, inject } from 'vitest';
import { freePort } from '@tenant-sync/local-infra';
import { certsDir, eventually, startApp, testTenants, type AppProcess } from '@tenant-sync/testing';

const infra = inject('infra');

interface Handshake {
  serverCn: string | undefined;
  authorized: boolean;
}

/** Completes a TLS handshake with `port` and reports who answered; rejects when the handshake fails. */
function handshake(port: number, clientCertificate: boolean): Promise<Handshake> {
  return new Promise((resolve, reject) => {
    const socket = connect({
      host: '127.0.0.1',
      port,
      servername: 'localhost',
      ca: readFileSync(path.join(certsDir, 'ca.crt')),
      ...(clientCertificate
        ? { cert: readFileSync(path.join(certsDir, 'consumer-client.crt')), key: readFileSync(path.join(certsDir, 'consumer-client.key')) }
        : {}),
    });
    socket.once('secureConnect', () => {
      const cn = socket.getPeerCertificate().subject?.CN;
      // Ask for something so a refused client certificate (a TLS 1.3 post-handshake alert) shows.
      socket.write(`GET /internal/sync/user HTTP/1.1\r\nhost: localhost\r\nx-consumer-id: consumer\r\nx-tenant-id: ${testTenants.a.id}\r\nconnection: close\r\n\r\n`);
      let answer = '';
      socket.on('data', (chunk: Buffer) => (answer += chunk.toString()));
      socket.once('end', () => resolve({ serverCn: Array.isArray(cn) ? cn[0] : cn, authorized: /^HTTP\/1\.1 200/.test(answer) }));
    });
    socket.once('error', reject);
  });
}

/** The real source process picks up new certificate files without a restart, on both listeners. */
describe('source certificate reload', () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'source-tls-reload-'));
  const files = { ca: path.join(dir, 'ca.crt'), cert: path.join(dir, 'server.crt'), key: path.join(dir, 'server.key') };
  const ports = { public: 0, internal: 0 };
  let source: AppProcess | undefined;

  beforeAll(async () => {
    copyFileSync(path.join(certsDir, 'ca.crt'), files.ca);
    copyFileSync(path.join(certsDir, 'source.crt'), files.cert);
    copyFileSync(path.join(certsDir, 'source.key'), files.key);
    writeFileSync(path.join(dir, 'next.ext'), 'subjectAltName=DNS:localhost,IP:127.0.0.1\nextendedKeyUsage=serverAuth\n');
    const openssl = (...args: string[]) => execFileSync('openssl', args, { cwd: dir, stdio: 'ignore', timeout: 20_000 });
    openssl('req', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-subj', '/O=tenant-sync/CN=source-rotated', '-keyout', 'next.key', '-out', 'next.csr');
    openssl('x509', '-req', '-in', 'next.csr', '-CA', path.join(certsDir, 'ca.crt'), '-CAkey', path.join(certsDir, 'ca.key'), '-set_serial', String(Date.now()),
      '-days', '30', '-extfile', 'next.ext', '-out', 'next.crt');
    [ports.public, ports.internal] = await Promise.all([freePort(), freePort()]);
    source = await startApp(
      'source',
      {
        SOURCE_DATABASE_URL: infra.sourceAppUrl,
        PUBLIC_PORT: String(ports.public),
        INTERNAL_PORT: String(ports.internal),
        TLS_CA_FILE: files.ca,
        TLS_CERT_FILE: files.cert,
        TLS_KEY_FILE: files.key,
      },
      await freePort(),
    );
  });
  afterAll(async () => {
    await source?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it('serves the new certificate on :8001 and :8441 once the files change, and still verifies client certificates', async () => {
    expect((await handshake(ports.public, false)).serverCn).toBe('source');
    expect(await handshake(ports.internal, true)).toEqual({ serverCn: 'source', authorized: true });

    copyFileSync(path.join(dir, 'next.key'), files.key);
    copyFileSync(path.join(dir, 'next.crt'), files.cert);

    await eventually(async () => expect((await handshake(ports.public, false)).serverCn).toBe('source-rotated'), 10_000);
    expect(await handshake(ports.internal, true)).toEqual({ serverCn: 'source-rotated', authorized: true });
    // The reloaded internal context still demands a client certificate from the project CA.
    await expect(handshake(ports.internal, false)).rejects.toThrow();
    const reloaded = source?.logLines().filter((line) => line.msg === 'TLS material reloaded') ?? [];
    expect(reloaded.length).toBeGreaterThanOrEqual(1);
    expect(source?.child.exitCode).toBeNull();
  });
});
