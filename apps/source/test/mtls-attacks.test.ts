import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { connect } from 'node:tls';
import postgres from 'postgres';
import { Agent, request } from 'undici';
import { afterAll, beforeAll, describe, expect, it, inject } from 'vitest';
import { certsDir, testTenants } from '@tenant-sync/testing';
import { buildSource } from './build-source.ts';

const infra = inject('infra');
const { a, b, suspended } = testTenants;

const openssl = (cwd: string, ...args: string[]) => execFileSync('openssl', args, { cwd, stdio: 'pipe', timeout: 20_000 });

/**
 * Client certificates an attacker might hold, made with openssl in `dir`: one from a CA of its
 * own, one from the project CA for an identity that is not allow-listed, one that has expired,
 * one with the consumer's CN but a SPIFFE ID of another trust domain, one with two SPIFFE IDs,
 * one with the CN alone, and one with the right SPIFFE ID but made for servers only.
 */
function makeAttackerCertificates(dir: string) {
  const caKey = path.join(certsDir, 'ca.key');
  const caCert = path.join(certsDir, 'ca.crt');
  const newKey = (name: string, cn: string) =>
    openssl(dir, 'req', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-sha256', '-subj', `/O=tenant-sync/CN=${cn}`, '-keyout', `${name}.key`, '-out', `${name}.csr`);
  const extensions = (name: string, san: string, usage = 'clientAuth') =>
    writeFileSync(
      path.join(dir, `${name}.ext`),
      `basicConstraints=critical,CA:FALSE\nkeyUsage=critical,digitalSignature,keyEncipherment\nextendedKeyUsage=${usage}\nsubjectAltName=${san}\n`,
    );
  const signWith = (name: string, ca: string, key: string) =>
    openssl(dir, 'x509', '-req', '-in', `${name}.csr`, '-CA', ca, '-CAkey', key, '-set_serial', String(Date.now()), '-sha256', '-days', '30', '-extfile', `${name}.ext`, '-out', `${name}.crt`);

  // Another CA, and a certificate from it that claims to be the consumer.
  openssl(dir, 'req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-sha256', '-days', '30',
    '-subj', '/O=evil/CN=evil CA', '-addext', 'basicConstraints=critical,CA:TRUE', '-addext', 'keyUsage=critical,keyCertSign,cRLSign',
    '-keyout', 'evil-ca.key', '-out', 'evil-ca.crt');
  newKey('other-ca', 'consumer');
  extensions('other-ca', 'URI:spiffe://tenant-sync.local/consumer');
  signWith('other-ca', 'evil-ca.crt', 'evil-ca.key');

  // The project CA, an identity nobody allow-listed.
  newKey('not-listed', 'intruder');
  extensions('not-listed', 'URI:spiffe://tenant-sync.local/intruder');
  signWith('not-listed', caCert, caKey);

  // The project CA, the consumer's CN and last path segment, but another trust domain.
  newKey('san-mismatch', 'consumer');
  extensions('san-mismatch', 'URI:spiffe://evil.example/consumer');
  signWith('san-mismatch', caCert, caKey);

  // The project CA, the consumer's SPIFFE ID and another one: which is it?
  newKey('two-ids', 'consumer');
  extensions('two-ids', 'URI:spiffe://tenant-sync.local/consumer,URI:spiffe://tenant-sync.local/relay');
  signWith('two-ids', caCert, caKey);

  // The project CA, the consumer's CN and no SPIFFE ID: the CN is not an identity.
  newKey('cn-only', 'consumer');
  extensions('cn-only', 'DNS:consumer');
  signWith('cn-only', caCert, caKey);

  // The project CA, the consumer's SPIFFE ID, but a server certificate (as whoever terminates TLS for :8002 holds).
  newKey('server-only', 'consumer');
  extensions('server-only', 'DNS:localhost,URI:spiffe://tenant-sync.local/consumer', 'serverAuth');
  signWith('server-only', caCert, caKey);

  // The project CA, the consumer's name, valid only on one day in 2020: `openssl ca` sets both dates.
  newKey('expired', 'consumer');
  extensions('expired', 'DNS:consumer');
  writeFileSync(path.join(dir, 'index.txt'), '');
  writeFileSync(
    path.join(dir, 'ca.cnf'),
    ['[ca]', 'default_ca = past', '[past]', `dir = ${dir}`, 'database = $dir/index.txt', 'new_certs_dir = $dir', 'serial = $dir/serial',
      'default_md = sha256', 'policy = anything', 'copy_extensions = none', '[anything]', 'commonName = supplied', 'organizationName = optional', ''].join('\n'),
  );
  writeFileSync(path.join(dir, 'serial'), '1000\n');
  openssl(dir, 'ca', '-batch', '-config', 'ca.cnf', '-cert', caCert, '-keyfile', caKey, '-in', 'expired.csr', '-out', 'expired.crt', '-notext',
    '-startdate', '20200101000000Z', '-enddate', '20200102000000Z', '-extfile', 'expired.ext');
}

describe('mTLS listener under attack', () => {
  let source: Awaited<ReturnType<typeof buildSource>>;
  let port: number;
  let userOfA: string;
  const dir = mkdtempSync(path.join(tmpdir(), 'mtls-attacks-'));
  const admin = postgres(infra.sourceAdminUrl, { max: 1, onnotice: () => {} });
  const ca = readFileSync(path.join(certsDir, 'ca.crt'));
  const agents: Agent[] = [];
  const agentWith = (name?: string, from = dir) => {
    const agent = new Agent({
      connect: name ? { ca, cert: readFileSync(path.join(from, `${name}.crt`)), key: readFileSync(path.join(from, `${name}.key`)) } : { ca },
    });
    agents.push(agent);
    return agent;
  };
  let consumer: Agent;

  beforeAll(async () => {
    makeAttackerCertificates(dir);
    consumer = agentWith('consumer-client', certsDir);
    source = await buildSource(infra);
    await source.internalServer.listen({ host: '127.0.0.1', port: 0 });
    port = (source.internalServer.server.address() as AddressInfo).port;
    await admin`DELETE FROM users`;
    await admin`DELETE FROM outbox`;
    [{ id: userOfA }] = await admin`INSERT INTO users (org_id, name, email) VALUES (${a.id}, 'Ann', 'ann@a.test') RETURNING id`;
  });
  afterAll(async () => {
    await Promise.all(agents.map((agent) => agent.close()));
    await source.close();
    await admin.end();
    rmSync(dir, { recursive: true, force: true });
  });

  const snapshot = async () => ({
    users: await admin`SELECT org_id, id, name, email, version::int AS version, updated_at FROM users ORDER BY id`,
    outbox: await admin`SELECT id::int AS id, aggregate_id FROM outbox ORDER BY id`,
    organizations: await admin`SELECT id, status FROM organizations ORDER BY id`,
  });
  const unchanged = async (attack: () => Promise<void>) => {
    const before = await snapshot();
    await attack();
    expect(await snapshot()).toEqual(before);
  };
  const call = async (dispatcher: Agent, url: string, headers: Record<string, string>, method: 'GET' | 'POST' = 'GET', body?: object) => {
    const response = await request(`https://localhost:${port}${url}`, {
      method,
      dispatcher,
      headers: { ...headers, ...(body ? { 'content-type': 'application/json' } : {}) },
      body: body ? JSON.stringify(body) : null,
    });
    return { status: response.statusCode, body: (await response.body.json()) as Record<string, unknown> };
  };
  const asConsumer = (tenant: string) => ({ 'x-consumer-id': 'consumer', 'x-tenant-id': tenant });

  it('serves the genuine consumer (the baseline the attacks differ from)', async () => {
    const { status, body } = await call(consumer, `/internal/sync/user/${userOfA}`, asConsumer(a.id));
    expect(status).toBe(200);
    expect(body).toMatchObject({ data: { id: userOfA, orgId: a.id } });
  });

  it('made the attacker certificates it meant to: the project CA vouches for all but one, one has expired', () => {
    const verify = (name: string) => {
      try {
        return openssl(dir, 'verify', '-CAfile', path.join(certsDir, 'ca.crt'), `${name}.crt`).toString();
      } catch (error) {
        const { stdout, stderr } = error as { stdout?: Buffer; stderr?: Buffer };
        return `${stdout ?? ''}${stderr ?? ''}`;
      }
    };
    expect(verify('not-listed')).toMatch(/OK/);
    expect(verify('san-mismatch')).toMatch(/OK/);
    expect(verify('expired')).toMatch(/certificate has expired/);
    expect(verify('other-ca')).toMatch(/unable to get local issuer certificate/);
  });

  describe('the TLS handshake fails', () => {
    it.each([
      ['without a client certificate', undefined],
      ['with a certificate from another CA', 'other-ca'],
      ['with an expired certificate from the project CA', 'expired'],
    ])('%s', async (_name, certificate) => {
      await unchanged(async () => {
        const agent = agentWith(certificate);
        await expect(call(agent, `/internal/sync/user/${userOfA}`, asConsumer(a.id))).rejects.toThrow();
      });
    });

    it('for a client that offers only TLS 1.1', async () => {
      const socket = connect({
        host: '127.0.0.1',
        port,
        servername: 'localhost',
        ca,
        cert: readFileSync(path.join(certsDir, 'consumer-client.crt')),
        key: readFileSync(path.join(certsDir, 'consumer-client.key')),
        minVersion: 'TLSv1',
        maxVersion: 'TLSv1.1',
      });
      const outcome = await new Promise<string>((resolve) => {
        socket.once('secureConnect', () => resolve('connected'));
        socket.once('error', (error) => resolve(error.message));
      });
      socket.destroy();
      expect(outcome).not.toBe('connected');
    });
  });

  describe('an authenticated peer is refused at the application', () => {
    it.each([
      ['a project CA certificate whose identity is not allow-listed', 'not-listed', { 'x-consumer-id': 'intruder', 'x-tenant-id': a.id }, 401],
      ["the consumer's CN with a SPIFFE ID of another trust domain", 'san-mismatch', asConsumer(a.id), 401],
      ['two SPIFFE IDs in one certificate', 'two-ids', asConsumer(a.id), 401],
      ["the consumer's CN and no SPIFFE ID", 'cn-only', asConsumer(a.id), 401],
      ['X-Consumer-ID that differs from the certificate', 'consumer', { 'x-consumer-id': 'relay', 'x-tenant-id': a.id }, 401],
      ['no X-Consumer-ID', 'consumer', { 'x-tenant-id': a.id }, 401],
      ['no X-Tenant-ID', 'consumer', { 'x-consumer-id': 'consumer' }, 403],
      ['an X-Tenant-ID that is not a UUID', 'consumer', { 'x-consumer-id': 'consumer', 'x-tenant-id': 'default' }, 403],
      ['an X-Tenant-ID that is SQL', 'consumer', { 'x-consumer-id': 'consumer', 'x-tenant-id': `${a.id}' OR '1'='1` }, 403],
      ['a suspended tenant', 'consumer', asConsumer(suspended.id), 403],
      ['a tenant that does not exist', 'consumer', asConsumer('5d7a0a36-52c7-4c1d-9b8e-1f9d5cf2f3a0'), 403],
    ] as const)('%s', async (_name, certificate, headers, status) => {
      const agent = certificate === 'consumer' ? consumer : agentWith(certificate);
      await unchanged(async () => {
        for (const url of [`/internal/sync/user/${userOfA}`, '/internal/sync/user', `/internal/tenancy/members/${a.admin}`]) {
          const response = await call(agent, url, headers);
          expect(response.status, url).toBe(status);
          // The code names the cause a consumer acts on: its credentials (alert) or the tenant (no sync).
          expect(response.body.code, url).toBe(status === 401 ? 'SRC_CLIENT_NOT_AUTHORISED' : 'SRC_TENANT_NOT_ALLOWED');
          expect(JSON.stringify(response.body)).not.toMatch(/ann@a\.test|Ann/);
        }
        const batch = await call(agent, '/internal/sync/user/batch', headers, 'POST', { ids: [userOfA] });
        expect(batch.status).toBe(status);
      });
    });

    it("answers another tenant's id with the same 404 as a missing one", async () => {
      await unchanged(async () => {
        const foreign = await call(consumer, `/internal/sync/user/${userOfA}`, asConsumer(b.id));
        const missing = await call(consumer, '/internal/sync/user/5d7a0a36-52c7-4c1d-9b8e-1f9d5cf2f3a0', asConsumer(b.id));
        expect(foreign.status).toBe(404);
        expect(foreign.body).toEqual(missing.body);
        const batch = await call(consumer, '/internal/sync/user/batch', asConsumer(b.id), 'POST', { ids: [userOfA] });
        expect(batch.body).toMatchObject({ data: [], missing: [userOfA] });
      });
    });

    it('400 for an id that is not a UUID', async () => {
      await unchanged(async () => {
        for (const id of ['42', "1' OR '1'='1"]) {
          expect((await call(consumer, `/internal/sync/user/${encodeURIComponent(id)}`, asConsumer(a.id))).status).toBe(400);
        }
      });
    });
  });

  it.each([
    ['a server certificate that carries the consumer SPIFFE ID', 'server-only', dir],
    ["the consumer's own :8002 server certificate", 'consumer', certsDir],
  ])('refuses %s: a server identity is not a client identity', async (_name, certificate, from) => {
    await unchanged(async () => {
      const outcome = await call(agentWith(certificate, from), `/internal/sync/user/${userOfA}`, asConsumer(a.id)).then(
        ({ status }) => status,
        () => 'handshake refused',
      );
      expect([401, 'handshake refused']).toContain(outcome);
    });
  });

  it('still knows the client on a resumed TLS session, and still refuses one that is not allow-listed', async () => {
    const ask = (name: string, from: string, consumerId: string, session?: Buffer) =>
      new Promise<{ status: string; reused: boolean; session: Buffer | undefined }>((resolve, reject) => {
        const socket = connect({
          host: '127.0.0.1',
          port,
          servername: 'localhost',
          ca,
          cert: readFileSync(path.join(from, `${name}.crt`)),
          key: readFileSync(path.join(from, `${name}.key`)),
          ...(session ? { session } : {}),
        });
        let ticket: Buffer | undefined;
        let answer = '';
        socket.on('session', (value: Buffer) => (ticket = value));
        socket.once('secureConnect', () =>
          socket.write(`GET /internal/sync/user/${userOfA} HTTP/1.1\r\nhost: localhost\r\nx-consumer-id: ${consumerId}\r\nx-tenant-id: ${a.id}\r\nconnection: close\r\n\r\n`),
        );
        socket.on('data', (chunk: Buffer) => (answer += chunk.toString()));
        socket.once('end', () => resolve({ status: answer.slice(9, 12), reused: socket.isSessionReused(), session: ticket }));
        socket.once('error', reject);
      });
    const first = await ask('consumer-client', certsDir, 'consumer');
    expect(first).toMatchObject({ status: '200', reused: false });
    const resumed = await ask('consumer-client', certsDir, 'consumer', first.session);
    expect(resumed).toMatchObject({ status: '200', reused: true });
    const intruder = await ask('not-listed', dir, 'intruder');
    const intruderResumed = await ask('not-listed', dir, 'intruder', intruder.session);
    expect([intruder.status, intruderResumed.status]).toEqual(['401', '401']);
    expect(intruderResumed.reused).toBe(true);
  });

  it('does not serve the public routes on the internal listener', async () => {
    await unchanged(async () => {
      expect((await call(consumer, '/users', asConsumer(a.id))).status).toBe(404);
      expect((await call(consumer, `/users/${userOfA}`, asConsumer(a.id))).status).toBe(404);
      expect((await call(consumer, '/users', asConsumer(a.id), 'POST', { name: 'Eve', email: 'eve@a.test' })).status).toBe(404);
    });
  });
});
