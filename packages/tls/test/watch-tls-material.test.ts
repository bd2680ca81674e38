import { execFileSync } from 'node:child_process';
import { copyFileSync, mkdirSync, mkdtempSync, renameSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:https';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { connect } from 'node:tls';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { checkExpiry, loadTlsMaterial, watchTlsMaterial, type TlsLogger, type TlsWatcher } from '../src/index.ts';
import { eventually } from '@tenant-sync/testing';

const certs = path.resolve(import.meta.dirname, '../../../certs');
const scratch = mkdtempSync(path.join(tmpdir(), 'tls-watch-test-'));
const live = path.join(scratch, 'live');
const files = { caFile: path.join(live, 'ca.crt'), certFile: path.join(live, 'server.crt'), keyFile: path.join(live, 'server.key') };
const openssl = (...args: string[]) => execFileSync('openssl', args, { cwd: scratch, stdio: 'ignore', timeout: 20_000 });

/** A server certificate from the project CA for `cn`, as the rotation would bring it. */
function issue(cn: string, caCrt = path.join(certs, 'ca.crt'), caKey = path.join(certs, 'ca.key')) {
  writeFileSync(path.join(scratch, `${cn}.ext`), 'subjectAltName=DNS:localhost,IP:127.0.0.1\nextendedKeyUsage=serverAuth\n');
  openssl('req', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-subj', `/CN=${cn}`, '-keyout', `${cn}.key`, '-out', `${cn}.csr`);
  openssl('x509', '-req', '-in', `${cn}.csr`, '-CA', caCrt, '-CAkey', caKey, '-set_serial', String(Date.now()), '-days', '2', '-extfile', `${cn}.ext`, '-out', `${cn}.crt`);
  return { crt: path.join(scratch, `${cn}.crt`), key: path.join(scratch, `${cn}.key`) };
}

function install({ crt, key }: { crt: string; key: string }) {
  copyFileSync(crt, files.certFile);
  copyFileSync(key, files.keyFile);
}

/** The CN of the certificate a fresh TLS connection to `port` is served. */
function servedCommonName(port: number): Promise<string | undefined> {
  return new Promise((resolve, reject) => {
    const socket = connect({ host: '127.0.0.1', port, servername: 'localhost', rejectUnauthorized: false }, () => {
      const cn = socket.getPeerCertificate().subject?.CN;
      socket.destroy();
      resolve(Array.isArray(cn) ? cn[0] : cn);
    });
    socket.once('error', reject);
  });
}

function recordingLogger() {
  const lines: Array<{ level: 'info' | 'warn' | 'error'; msg: string } & Record<string, unknown>> = [];
  const logger: TlsLogger = {
    info: (object, msg) => lines.push({ level: 'info', msg, ...object }),
    warn: (object, msg) => lines.push({ level: 'warn', msg, ...object }),
    error: (object, msg) => lines.push({ level: 'error', msg, ...object }),
  };
  return { logger, lines };
}

describe('watchTlsMaterial', () => {
  let server: Server;
  let port: number;
  let watcher: TlsWatcher | undefined;
  let first: { crt: string; key: string };
  let second: { crt: string; key: string };
  let foreign: { crt: string; key: string };

  beforeAll(() => {
    mkdirSync(live);
    first = issue('server-one');
    second = issue('server-two');
    openssl('req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-days', '2', '-subj', '/CN=evil CA', '-keyout', 'evil-ca.key', '-out', 'evil-ca.crt');
    foreign = issue('server-foreign', path.join(scratch, 'evil-ca.crt'), path.join(scratch, 'evil-ca.key'));
  });
  beforeEach(async () => {
    copyFileSync(path.join(certs, 'ca.crt'), files.caFile);
    install(first);
    const material = loadTlsMaterial(files);
    server = createServer({ key: material.key, cert: material.cert, minVersion: 'TLSv1.2' }, (_request, response) => response.end('ok'));
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    port = (server.address() as AddressInfo).port;
  });
  afterEach(async () => {
    watcher?.close();
    watcher = undefined;
    server.closeAllConnections();
    await new Promise((resolve) => server.close(resolve));
  });
  afterAll(() => rmSync(scratch, { recursive: true, force: true }));

  const start = (logger: TlsLogger, debounceMs = 100) =>
    (watcher = watchTlsMaterial(files, {
      logger,
      debounceMs,
      onReload: (material) => server.setSecureContext({ key: material.key, cert: material.cert, minVersion: 'TLSv1.2' }),
    }));

  it('serves a rotated certificate without a restart once the files change', async () => {
    const { logger, lines } = recordingLogger();
    start(logger);
    expect(await servedCommonName(port)).toBe('server-one');
    install(second);
    await eventually(async () => expect(await servedCommonName(port)).toBe('server-two'));
    expect(watcher?.current().subject).toContain('CN=server-two');
    expect(lines).toContainEqual(expect.objectContaining({ level: 'info', msg: 'TLS material reloaded' }));
  });

  it('serves a rotated Kubernetes Secret volume once its ..data symlink is swapped', async () => {
    // The kubelet's layout: the files are links through ..data into a timestamped directory; a
    // rotation writes a new directory and renames a new ..data link over the old one.
    const volume = path.join(scratch, 'secret-volume');
    const writeVersion = (name: string, { crt, key }: { crt: string; key: string }) => {
      mkdirSync(path.join(volume, name), { recursive: true });
      copyFileSync(path.join(certs, 'ca.crt'), path.join(volume, name, 'ca.crt'));
      copyFileSync(crt, path.join(volume, name, 'tls.crt'));
      copyFileSync(key, path.join(volume, name, 'tls.key'));
    };
    rmSync(volume, { recursive: true, force: true });
    writeVersion('..2026_01_01_00_00_00.000000001', first);
    symlinkSync('..2026_01_01_00_00_00.000000001', path.join(volume, '..data'));
    for (const name of ['ca.crt', 'tls.crt', 'tls.key']) symlinkSync(`..data/${name}`, path.join(volume, name));
    const { logger, lines } = recordingLogger();
    watcher = watchTlsMaterial(
      { caFile: path.join(volume, 'ca.crt'), certFile: path.join(volume, 'tls.crt'), keyFile: path.join(volume, 'tls.key') },
      {
        logger,
        debounceMs: 100,
        onReload: (material) => server.setSecureContext({ key: material.key, cert: material.cert, minVersion: 'TLSv1.2' }),
      },
    );
    expect(await servedCommonName(port)).toBe('server-one');

    writeVersion('..2026_01_02_00_00_00.000000002', second);
    symlinkSync('..2026_01_02_00_00_00.000000002', path.join(volume, '..data_tmp'));
    renameSync(path.join(volume, '..data_tmp'), path.join(volume, '..data'));
    rmSync(path.join(volume, '..2026_01_01_00_00_00.000000001'), { recursive: true });

    await eventually(async () => expect(await servedCommonName(port)).toBe('server-two'));
    expect(watcher.current().subject).toContain('CN=server-two');
    expect(lines).toContainEqual(expect.objectContaining({ level: 'info', msg: 'TLS material reloaded' }));
  });

  it('keeps the current certificate when the new files do not pass the checks', async () => {
    const { logger, lines } = recordingLogger();
    start(logger, 60_000);
    install(foreign);
    expect(watcher?.reload()).toBe(false);
    copyFileSync(second.crt, files.certFile); // a certificate with the key of another
    expect(watcher?.reload()).toBe(false);
    expect(await servedCommonName(port)).toBe('server-one');
    expect(watcher?.current().subject).toContain('CN=server-one');
    expect(lines.filter((line) => line.level === 'error').map((line) => String(line.err))).toEqual([
      expect.stringMatching(/not signed by the CA/),
      expect.stringMatching(/not the private key/),
    ]);
  });

  it('reloads on SIGHUP', async () => {
    const { logger } = recordingLogger();
    start(logger, 60_000); // file events alone would wait a minute
    install(second);
    process.emit('SIGHUP', 'SIGHUP');
    expect(await servedCommonName(port)).toBe('server-two');
  });

  it('stops watching when closed', async () => {
    const { logger } = recordingLogger();
    const listeners = process.listenerCount('SIGHUP');
    start(logger);
    expect(process.listenerCount('SIGHUP')).toBe(listeners + 1);
    watcher?.close();
    expect(process.listenerCount('SIGHUP')).toBe(listeners);
    install(second);
    await new Promise((resolve) => setTimeout(resolve, 400));
    expect(await servedCommonName(port)).toBe('server-one');
  });
});

describe('checkExpiry', () => {
  const material = loadTlsMaterial({ caFile: path.join(certs, 'ca.crt'), certFile: path.join(certs, 'source.crt'), keyFile: path.join(certs, 'source.key') });
  const day = 86_400_000;

  it('is quiet when more than 30 days are left, warns within 30 days, errors once expired', () => {
    const { logger, lines } = recordingLogger();
    checkExpiry(material, logger, 30, new Date(material.notAfter.getTime() - 60 * day));
    expect(lines).toEqual([]);
    checkExpiry(material, logger, 30, new Date(material.notAfter.getTime() - 10 * day));
    checkExpiry(material, logger, 30, new Date(material.notAfter.getTime() + day));
    expect(lines).toEqual([
      expect.objectContaining({ level: 'warn', msg: 'certificate expires soon', daysLeft: 10 }),
      expect.objectContaining({ level: 'error', msg: 'certificate has expired' }),
    ]);
  });
});
