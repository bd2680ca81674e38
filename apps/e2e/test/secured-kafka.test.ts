import { execFile } from 'node:child_process';
import { randomBytes, randomUUID } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import pino from 'pino';
import postgres from 'postgres';
import { afterAll, beforeAll, describe, expect, it, inject } from 'vitest';
import { TenantSyncClient } from '@tenant-sync/client';
import { loadKafkaSecurity } from '@tenant-sync/config';
import { aclCommandArgs, brokersAnswer, createKafka, ensureTopics, tenantSyncAcls } from '@tenant-sync/kafka';
import { createTestCertificateAuthority, freePort, runKafkaTool, startKafkaBroker, waitFor, type RunningKafkaBroker } from '@tenant-sync/local-infra';
import { certsDir, eventually, mintToken, startApp, testTenants, type AppProcess } from '@tenant-sync/testing';
import { workspaceRoot } from '@tenant-sync/config';

const infra = inject('infra');
const { a } = testTenants;

// The real relay and consumer against a broker that only speaks SASL_SSL, with the
// StandardAuthorizer and nothing but tenant-sync's ACLs: each app, and the operator CLI, as its
// own SCRAM user with its password in a file, does its whole job. What each principal is refused is shown in
// packages/kafka/test/kafka-acl.test.ts.
describe('the apps on a secured Kafka: SASL_SSL, SCRAM users, least-privilege ACLs', () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'secured-kafka-e2e-'));
  const passwords = { admin: '', relay: '', consumer: '', operator: '' };
  for (const user of Object.keys(passwords) as Array<keyof typeof passwords>) passwords[user] = randomBytes(18).toString('base64url');
  const eventTopics = ['user-events', 'team-events'];
  const consumerGroup = 'tenant-sync-consumer';
  const consumerDb = postgres(infra.consumerAdminUrl, { max: 1, onnotice: () => {} });
  let broker: RunningKafkaBroker | undefined;
  let caFile: string;
  const apps: AppProcess[] = [];
  let client: TenantSyncClient;

  /** What an app reads to connect as `user`, its password in a 0600 file. */
  const kafkaEnv = (user: keyof typeof passwords) => {
    const passwordFile = path.join(dir, `${user}.password`);
    writeFileSync(passwordFile, `${passwords[user]}\n`, { mode: 0o600 });
    return {
      KAFKA_BROKERS: broker?.brokers ?? '',
      KAFKA_SECURITY_PROTOCOL: 'SASL_SSL',
      KAFKA_SSL_CA_FILE: caFile,
      KAFKA_SASL_USERNAME: user,
      KAFKA_SASL_PASSWORD_FILE: passwordFile,
      // The platform team made the topics; the apps have no right to.
      KAFKA_CREATE_TOPICS: 'false',
    };
  };

  beforeAll(async () => {
    const ca = createTestCertificateAuthority(dir);
    caFile = ca.caFile;
    const port = await freePort();
    let controllerPort = await freePort();
    while (controllerPort === port) controllerPort = await freePort();
    broker = await startKafkaBroker({
      dataDir: path.join(dir, 'broker'),
      port,
      controllerPort,
      logFile: path.join(dir, 'broker.log'),
      startTimeoutMs: 300_000,
      secured: { ...ca.issue('broker', ['DNS:localhost', 'IP:127.0.0.1']), caFile, scramUsers: passwords, superUsers: ['User:admin'] },
    });
    const admin = loadKafkaSecurity(kafkaEnv('admin'));
    await waitFor('the secured broker', () => brokersAnswer(broker!.brokers, { security: admin, timeoutMs: 10_000 })().then(() => true, () => false), 300_000, 1_000);
    await ensureTopics(createKafka({ brokers: broker.brokers, clientId: 'secured-e2e-admin', logger: pino({ level: 'silent' }), security: admin }), [
      ...eventTopics.map((topic) => ({ topic, numPartitions: 3 })),
      ...eventTopics.map((topic) => ({ topic: `${topic}.dlq`, numPartitions: 1 })),
    ]);
    const commandConfig = path.join(dir, 'admin.properties');
    writeFileSync(
      commandConfig,
      `security.protocol=SASL_SSL\nsasl.mechanism=SCRAM-SHA-512\nsasl.jaas.config=org.apache.kafka.common.security.scram.ScramLoginModule required username="admin" password="${passwords.admin}";\nssl.truststore.type=PEM\nssl.truststore.location=${caFile}\n`,
      { mode: 0o600 },
    );
    for (const rule of tenantSyncAcls({ principals: { relay: 'User:relay', consumer: 'User:consumer', operator: 'User:operator' }, eventTopics, consumerGroup })) {
      runKafkaTool('org.apache.kafka.tools.AclCommand', ['--bootstrap-server', broker.brokers, '--command-config', commandConfig, ...aclCommandArgs(rule)], 300_000);
    }

    const [publicPort, internalPort, cachePort] = await Promise.all([freePort(), freePort(), freePort()]);
    apps.push(await startApp('source', { SOURCE_DATABASE_URL: infra.sourceAppUrl, PUBLIC_PORT: String(publicPort), INTERNAL_PORT: String(internalPort) }, await freePort()));
    apps.push(await startApp('relay', { ...kafkaEnv('relay'), RELAY_DATABASE_URL: infra.relayAppUrl }, await freePort()));
    apps.push(
      await startApp(
        'consumer',
        {
          ...kafkaEnv('consumer'),
          CONSUMER_DATABASE_URL: infra.consumerAppUrl,
          KAFKA_GROUP_ID: consumerGroup,
          SOURCE_INTERNAL_URL: `https://localhost:${internalPort}`,
          PUBLIC_PORT: String(cachePort),
        },
        await freePort(),
      ),
    );
    client = new TenantSyncClient({
      baseUrl: `https://localhost:${publicPort}`,
      cacheUrl: `https://localhost:${cachePort}`,
      ca: readFileSync(path.join(certsDir, 'ca.crt')),
      token: await mintToken({ orgId: a.id, subject: a.admin }),
    });
  }, 900_000);

  afterAll(async () => {
    for (const app of apps.reverse()) await app.stop();
    await client?.close();
    await broker?.stop();
    await consumerDb.end();
    rmSync(dir, { recursive: true, force: true });
  }, 120_000);

  it('a user and a team written to the source reach the consumer through the secured broker', async () => {
    const suffix = randomUUID().slice(0, 8);
    const user = await client.createUser(a.id, { name: 'Secured Kafka User', email: `secured-${suffix}@a.test` });
    const team = await client.createTeam(a.id, { name: `Secured Kafka Team ${suffix}` });
    await eventually(async () => {
      const [synced] = await consumerDb`SELECT version::int AS version FROM synced_users WHERE id = ${user.id}`;
      expect(synced).toEqual({ version: 1 });
      const [syncedTeam] = await consumerDb`SELECT version::int AS version FROM synced_teams WHERE id = ${team.id}`;
      expect(syncedTeam).toEqual({ version: 1 });
    }, 60_000);
  });

  it('the operator CLI, as its own user, lists the dead letter the consumer parked', async () => {
    // Only a principal allowed to write the events topic can put a poison message there: the admin.
    const admin = createKafka({ brokers: broker!.brokers, clientId: 'secured-e2e-poison', logger: pino({ level: 'silent' }), security: loadKafkaSecurity(kafkaEnv('admin')) });
    const producer = admin.producer({ kafkaJS: { idempotent: true, acks: -1 } });
    await producer.connect();
    await producer.send({ topic: 'user-events', messages: [{ key: 'poison', value: 'not an event' }] });
    await producer.disconnect();

    const cliEnv = { ...process.env, ...kafkaEnv('operator'), OPERATOR_DATABASE_URL: infra.operatorUrl };
    const output = await eventually(async () => {
      const { stdout } = await promisify(execFile)(process.execPath, [path.join(workspaceRoot, 'tools', 'tenant.ts'), 'dlq'], { env: cliEnv, timeout: 60_000 });
      expect(stdout).toMatch(/^[1-9]\d* dead letters in user-events\.dlq/m);
      return stdout;
    }, 90_000);
    expect(output).toContain('poison');
  });

  it('the apps met no authorization error and logged no password', () => {
    for (const app of apps) {
      const log = JSON.stringify(app.logLines());
      expect(log).not.toMatch(/authorization failed|authentication (error|failed)/i);
      for (const password of Object.values(passwords)) expect(log).not.toContain(password);
    }
  });
});
