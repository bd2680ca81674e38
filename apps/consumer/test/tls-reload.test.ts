import { execFileSync } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { copyFileSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { connect } from 'node:tls';
import pino from 'pino';
import postgres from 'postgres';
import { afterAll, beforeAll, describe, expect, it, inject } from 'vitest';
import { eventTopic } from '@tenant-sync/contracts';
import { createKafka, ensureTopics, type Producer } from '@tenant-sync/kafka';
import { freePort } from '@tenant-sync/local-infra';
import { certsDir, eventually, startApp, testTenants, type AppProcess } from '@tenant-sync/testing';

const infra = inject('infra');
const { a } = testTenants;

/** The subject CN of the certificate `port` presents. */
function servedCommonName(port: number): Promise<string | undefined> {
  return new Promise((resolve, reject) => {
    const socket = connect({ host: '127.0.0.1', port, servername: 'localhost', ca: readFileSync(path.join(certsDir, 'ca.crt')) }, () => {
      const cn = socket.getPeerCertificate().subject?.CN;
      socket.end();
      resolve(Array.isArray(cn) ? cn[0] : cn);
    });
    socket.once('error', reject);
  });
}

/**
 * The real consumer process takes new certificate files without a restart: its :8002
 * listener serves the new server certificate and its Reference API calls present the new
 * client certificate (one the source does not allow-list is refused at once, and a good one
 * brings the sync back). The two identities are separate files.
 */
describe('consumer certificate reload', () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'consumer-tls-reload-'));
  const files = { ca: path.join(dir, 'ca.crt'), cert: path.join(dir, 'consumer.crt'), key: path.join(dir, 'consumer.key') };
  const clientFiles = { cert: path.join(dir, 'consumer-client.crt'), key: path.join(dir, 'consumer-client.key') };
  const topicTemplate = `tls-reload-${randomUUID()}-{type}`;
  const topic = eventTopic(topicTemplate, 'USER');
  const kafka = createKafka({ brokers: infra.brokers, clientId: 'tls-reload-test', logger: pino({ level: 'silent' }) });
  const sourceDb = postgres(infra.sourceAdminUrl, { max: 1, onnotice: () => {} });
  const consumerDb = postgres(infra.consumerAdminUrl, { max: 1, onnotice: () => {} });
  const apps: AppProcess[] = [];
  const ports = { internal: 0, cache: 0 };
  let producer: Producer;
  let consumer: AppProcess;

  /** A certificate of the project CA for `cn`: a server one for :8002, or a client one whose SPIFFE ID ends in `cn`. */
  function issue(cn: string, usage: 'server' | 'client'): { cert: string; key: string } {
    const openssl = (...args: string[]) => execFileSync('openssl', args, { cwd: dir, stdio: 'ignore', timeout: 20_000 });
    const extensions =
      usage === 'server'
        ? 'subjectAltName=DNS:localhost,IP:127.0.0.1\nextendedKeyUsage=serverAuth\n'
        : `subjectAltName=URI:spiffe://tenant-sync.local/${cn}\nextendedKeyUsage=clientAuth\n`;
    writeFileSync(path.join(dir, `${cn}.ext`), extensions);
    openssl('req', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-subj', `/O=tenant-sync/CN=${cn}`, '-keyout', `${cn}.key`, '-out', `${cn}.csr`);
    openssl('x509', '-req', '-in', `${cn}.csr`, '-CA', path.join(certsDir, 'ca.crt'), '-CAkey', path.join(certsDir, 'ca.key'), '-set_serial', String(Date.now()),
      '-days', '30', '-extfile', `${cn}.ext`, '-out', `${cn}.crt`);
    return { cert: path.join(dir, `${cn}.crt`), key: path.join(dir, `${cn}.key`) };
  }

  /** Swaps the consumer's files for `next` (key first, as a rotation script would) and waits for the reload. */
  async function rotate(target: { cert: string; key: string }, next: { cert: string; key: string }) {
    const reloadsBefore = consumer.logLines().filter((line) => line.msg === 'TLS material reloaded').length;
    copyFileSync(next.key, target.key);
    copyFileSync(next.cert, target.cert);
    await eventually(async () => {
      expect(consumer.logLines().filter((line) => line.msg === 'TLS material reloaded').length).toBeGreaterThan(reloadsBefore);
    }, 10_000);
  }

  /** A user written at the source, and its reference put on the topic as the relay would. */
  async function createAndAnnounce(name: string): Promise<string> {
    const [row] = await sourceDb`INSERT INTO users (org_id, name, email) VALUES (${a.id}, ${name}, ${`${randomUUID()}@a.test`}) RETURNING id, version::int AS version`;
    const id = row!.id as string;
    const event = { event_id: randomUUID(), entity: { type: 'USER', id }, action: 'CREATED', version: row!.version, timestamp: new Date().toISOString(), source_system: 'test', tenant_context: { org_id: a.id } };
    await producer.send({ topic, messages: [{ key: id, value: JSON.stringify(event), headers: { 'x-tenant-id': a.id } }] });
    return id;
  }
  const synced = async (id: string) => (await consumerDb`SELECT 1 FROM synced_users WHERE id = ${id}`).length === 1;

  beforeAll(async () => {
    copyFileSync(path.join(certsDir, 'ca.crt'), files.ca);
    copyFileSync(path.join(certsDir, 'consumer.crt'), files.cert);
    copyFileSync(path.join(certsDir, 'consumer.key'), files.key);
    copyFileSync(path.join(certsDir, 'consumer-client.crt'), clientFiles.cert);
    copyFileSync(path.join(certsDir, 'consumer-client.key'), clientFiles.key);
    await ensureTopics(kafka, [{ topic, numPartitions: 1 }, { topic: `${topic}.dlq`, numPartitions: 1 }]);
    producer = kafka.producer();
    await producer.connect();
    [ports.internal, ports.cache] = await Promise.all([freePort(), freePort()]);
    apps.push(await startApp('source', { SOURCE_DATABASE_URL: infra.sourceAppUrl, PUBLIC_PORT: String(await freePort()), INTERNAL_PORT: String(ports.internal) }, await freePort()));
    consumer = await startApp(
      'consumer',
      {
        CONSUMER_DATABASE_URL: infra.consumerAppUrl,
        KAFKA_BROKERS: infra.brokers,
        KAFKA_TOPIC_TEMPLATE: topicTemplate,
        KAFKA_GROUP_ID: `tls-reload-${randomUUID()}`,
        SOURCE_INTERNAL_URL: `https://localhost:${ports.internal}`,
        PUBLIC_PORT: String(ports.cache),
        TLS_CA_FILE: files.ca,
        TLS_CERT_FILE: files.cert,
        TLS_KEY_FILE: files.key,
        TLS_CLIENT_CERT_FILE: clientFiles.cert,
        TLS_CLIENT_KEY_FILE: clientFiles.key,
        SOURCE_AUTH_PAUSE_MS: '500',
        RECONCILE_INTERVAL_MS: '0',
      },
      await freePort(),
    );
    apps.push(consumer);
  });
  afterAll(async () => {
    for (const app of apps.reverse()) await app.stop();
    await producer?.disconnect();
    await Promise.all([sourceDb.end(), consumerDb.end()]);
    rmSync(dir, { recursive: true, force: true });
  });

  it('serves and presents new certificates without a restart', { timeout: 90_000 }, async () => {
    const first = await createAndAnnounce('Before Rotation');
    await eventually(async () => expect(await synced(first)).toBe(true), 20_000);
    expect(await servedCommonName(ports.cache)).toBe('consumer');

    // A new server certificate is served on :8002 and changes nothing on :8441.
    await rotate(files, issue('consumer-rotated', 'server'));
    expect(await servedCommonName(ports.cache)).toBe('consumer-rotated');

    // A client certificate the source does not allow-list: presented at once, refused, alerted on.
    await rotate(clientFiles, issue('intruder', 'client'));
    const second = await createAndAnnounce('During Rotation');
    await eventually(async () => {
      expect(consumer.logLines().some((line) => line.alert === true && line.status === 401)).toBe(true);
    }, 20_000);
    expect(await synced(second)).toBe(false);

    // The right identity again, in a new certificate: the paused partition syncs once more.
    await rotate(clientFiles, issue('consumer', 'client'));
    await eventually(async () => expect(await synced(second)).toBe(true), 30_000);
  });
});
