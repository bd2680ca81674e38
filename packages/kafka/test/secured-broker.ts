import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import pino from 'pino';
import type { TestProject } from 'vitest/node';
import { loadKafkaSecurity } from '@tenant-sync/config';
import { createTestCertificateAuthority, freePort, runKafkaTool, startKafkaBroker, waitFor } from '@tenant-sync/local-infra';
import { aclCommandArgs, brokersAnswer, createKafka, ensureTopics, tenantSyncAcls } from '../src/index.ts';

/** What the ACL test gets: a broker with a SASL_SSL listener, the StandardAuthorizer and tenant-sync's ACLs. */
export interface SecuredBroker {
  brokers: string;
  /** The throw-away CA that signed the broker's certificate, and the folder the test may write to. */
  caFile: string;
  dir: string;
  /** SCRAM users (admin, relay, consumer, operator, console) and the PLAIN user `plain`: name → password. */
  passwords: Record<'admin' | 'relay' | 'consumer' | 'operator' | 'console' | 'plain', string>;
  eventTopics: string[];
  consumerGroup: string;
}

declare module 'vitest' {
  export interface ProvidedContext {
    securedBroker: SecuredBroker;
  }
}

/** Two distinct free ports: freePort may hand out the same one twice. */
async function twoFreePorts() {
  const port = await freePort();
  let controllerPort = await freePort();
  while (controllerPort === port) controllerPort = await freePort();
  return { port, controllerPort };
}

/**
 * Vitest global setup: starts the local KRaft broker with a SASL_SSL listener (certificates from a
 * throw-away CA, SCRAM users made by `kafka-storage format --add-scram`), creates the topics as the
 * admin and applies tenant-sync's ACLs with Kafka's own AclCommand. The broker runs beside the
 * test worker, as a real one would; it is stopped and its folder removed after the run.
 */
export default async function setup(project: TestProject) {
  const dir = mkdtempSync(path.join(tmpdir(), 'kafka-acl-'));
  const passwords = Object.fromEntries(['admin', 'relay', 'consumer', 'operator', 'console', 'plain'].map((user) => [user, randomBytes(18).toString('base64url')])) as SecuredBroker['passwords'];
  const eventTopics = ['user-events', 'team-events'];
  const consumerGroup = 'tenant-sync-consumer';
  const ca = createTestCertificateAuthority(dir);
  const broker = await startKafkaBroker({
    dataDir: path.join(dir, 'broker'),
    ...(await twoFreePorts()),
    logFile: path.join(dir, 'broker.log'),
    startTimeoutMs: 300_000,
    secured: {
      ...ca.issue('broker', ['DNS:localhost', 'IP:127.0.0.1']),
      caFile: ca.caFile,
      scramUsers: { admin: passwords.admin, relay: passwords.relay, consumer: passwords.consumer, operator: passwords.operator, console: passwords.console },
      plainUsers: { plain: passwords.plain },
      superUsers: ['User:admin'],
    },
  });
  const stop = async () => {
    await broker.stop();
    rmSync(dir, { recursive: true, force: true });
  };
  try {
    const security = loadKafkaSecurity({ KAFKA_SECURITY_PROTOCOL: 'SASL_SSL', KAFKA_SSL_CA_FILE: ca.caFile, KAFKA_SASL_USERNAME: 'admin', KAFKA_SASL_PASSWORD: passwords.admin });
    await waitFor('the secured broker to answer its admin', () => brokersAnswer(broker.brokers, { security, timeoutMs: 10_000 })().then(() => true, () => false), 300_000, 1_000);
    const admin = createKafka({ brokers: broker.brokers, clientId: 'acl-test-setup', logger: pino({ level: 'silent' }), security });
    await ensureTopics(admin, [...eventTopics, ...eventTopics.map((topic) => `${topic}.dlq`)].map((topic) => ({ topic, numPartitions: 1 })));

    const commandConfig = path.join(dir, 'admin.properties');
    writeFileSync(
      commandConfig,
      [
        'security.protocol=SASL_SSL',
        'sasl.mechanism=SCRAM-SHA-512',
        `sasl.jaas.config=org.apache.kafka.common.security.scram.ScramLoginModule required username="admin" password="${passwords.admin}";`,
        'ssl.truststore.type=PEM',
        `ssl.truststore.location=${ca.caFile}`,
        '',
      ].join('\n'),
      { mode: 0o600 },
    );
    const rules = tenantSyncAcls({ principals: { relay: 'User:relay', consumer: 'User:consumer', operator: 'User:operator', console: 'User:console' }, eventTopics, consumerGroup });
    for (const rule of rules) runKafkaTool('org.apache.kafka.tools.AclCommand', ['--bootstrap-server', broker.brokers, '--command-config', commandConfig, ...aclCommandArgs(rule)], 300_000);
  } catch (error) {
    await stop();
    throw error;
  }
  project.provide('securedBroker', { brokers: broker.brokers, caFile: ca.caFile, dir, passwords, eventTopics, consumerGroup });
  return stop;
}
