import { writeFileSync } from 'node:fs';
import path from 'node:path';
import pino from 'pino';
import { describe, expect, inject, it } from 'vitest';
import { loadKafkaSecurity, type KafkaSecurityConfig } from '@tenant-sync/config';
import { createTestCertificateAuthority } from '@tenant-sync/local-infra';
import { brokersAnswer, createKafka, readFromOffsets, type Kafka } from '../src/index.ts';

// The local broker with a SASL_SSL listener and the StandardAuthorizer, the ACLs of
// tenant-sync applied with Kafka's own AclCommand (test/secured-broker.ts), and each principal
// doing its job and being refused everything else. Each principal connects with the settings
// an app reads (KAFKA_SECURITY_PROTOCOL, KAFKA_SSL_CA_FILE, KAFKA_SASL_USERNAME,
// KAFKA_SASL_PASSWORD_FILE).

const { brokers, caFile, dir, passwords, eventTopics, consumerGroup } = inject('securedBroker');
const logLines: string[] = [];
type User = keyof typeof passwords;

/** A client configured the way an app is, from its environment; its log lines are kept in `lines`. */
function clientOf(env: Record<string, string>, clientId: string) {
  const lines: string[] = [];
  const logger = pino({ level: 'debug' }, {
    write: (line: string) => {
      lines.push(line);
      logLines.push(line);
    },
  });
  const security = loadKafkaSecurity({ KAFKA_SSL_CA_FILE: caFile, ...env });
  return { kafka: createKafka({ brokers, clientId, logger, security }), security, lines };
}

function scramEnv(user: User, extra: Record<string, string> = {}): Record<string, string> {
  const passwordFile = path.join(dir, `${user}.password`);
  writeFileSync(passwordFile, `${passwords[user]}\n`, { mode: 0o600 });
  return { KAFKA_SECURITY_PROTOCOL: 'SASL_SSL', KAFKA_SASL_USERNAME: user, KAFKA_SASL_PASSWORD_FILE: passwordFile, ...extra };
}

async function send(kafka: Kafka, topic: string, value: string) {
  const producer = kafka.producer({ kafkaJS: { idempotent: true, acks: -1 } });
  await producer.connect();
  try {
    return await producer.send({ topic, messages: [{ key: 'entity-1', value }] });
  } finally {
    await producer.disconnect();
  }
}

/** Reading that the broker refuses: nothing arrives, and the client was told why. */
async function expectReadRefused(client: { kafka: Kafka; lines: string[] }, topic: string, refusal: RegExp) {
  await expect(readFromOffsets(client.kafka, topic, [{ partition: 0, from: '0', to: '1' }], { timeoutMs: 8_000 })).rejects.toThrow(/read 0 of 1/);
  expect(client.lines.join('\n')).toMatch(refusal);
}

/** Resolves when a line matching `pattern` is in `lines`; throws after `timeoutMs`. */
async function waitForLine(lines: string[], pattern: RegExp, timeoutMs: number) {
  const deadline = Date.now() + timeoutMs;
  while (!lines.some((line) => pattern.test(line))) {
    if (Date.now() > deadline) throw new Error(`no log line matched ${pattern} within ${timeoutMs} ms`);
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
}

async function expectNoConnection(security: KafkaSecurityConfig | undefined) {
  await expect(brokersAnswer(brokers, { security, timeoutMs: 5_000 })()).rejects.toThrow();
  const kafka = createKafka({ brokers: brokers, clientId: 'refused', logger: pino({ level: 'silent' }), security });
  const admin = kafka.admin();
  await admin.connect();
  try {
    await expect(admin.listTopics({ timeout: 5_000 })).rejects.toThrow();
  } finally {
    await admin.disconnect().catch(() => {});
  }
}

describe('Kafka least privilege: SASL_SSL, SCRAM users and the ACLs of tenant-sync', () => {
  it('lets no one in without credentials: anonymous PLAINTEXT, TLS without SASL, a wrong password, a client that does not trust the CA', async () => {
    await expectNoConnection(undefined);
    await expectNoConnection(loadKafkaSecurity({ KAFKA_SECURITY_PROTOCOL: 'SSL', KAFKA_SSL_CA_FILE: caFile }));
    await expectNoConnection(loadKafkaSecurity({ KAFKA_SECURITY_PROTOCOL: 'SASL_SSL', KAFKA_SSL_CA_FILE: caFile, KAFKA_SASL_USERNAME: 'relay', KAFKA_SASL_PASSWORD: 'not-the-password' }));
    const otherCa = createTestCertificateAuthority(dir, 'other-ca');
    await expectNoConnection(loadKafkaSecurity({ ...scramEnv('relay'), KAFKA_SSL_CA_FILE: otherCa.caFile }));
  });

  it('the relay publishes to every events topic, and can neither read them nor write a dead-letter topic', async () => {
    // The pass-through reaches librdkafka (an unknown property would fail the client).
    const relay = clientOf(scramEnv('relay', { KAFKA_PROP_SOCKET_KEEPALIVE_ENABLE: 'true' }), 'acl-test-relay');
    await expect(brokersAnswer(brokers, { security: relay.security, timeoutMs: 10_000 })()).resolves.toBeUndefined();
    for (const topic of eventTopics) {
      const [written] = await send(relay.kafka, topic, `reference for ${topic}`);
      expect(written).toMatchObject({ topicName: topic, errorCode: 0 });
    }
    await expect(send(relay.kafka, 'user-events.dlq', 'a forged dead letter')).rejects.toThrow(/Topic authorization failed/);
    await expectReadRefused(relay, 'user-events', /authorization failed/i);
  });

  it('the consumer reads in its group, commits and parks dead letters, and can neither write an events topic nor read in another group', async () => {
    const consumer = clientOf(scramEnv('consumer'), 'acl-test-consumer');
    await expect(brokersAnswer(brokers, { security: consumer.security, timeoutMs: 10_000 })()).resolves.toBeUndefined();

    const reader = consumer.kafka.consumer({ kafkaJS: { groupId: consumerGroup, fromBeginning: true, autoCommit: false } });
    await reader.connect();
    try {
      await reader.subscribe({ topics: eventTopics });
      const read = new Map<string, string>();
      await new Promise<void>((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`read ${[...read.keys()].join(', ')} only`)), 60_000);
        void reader.run({
          eachMessage: async ({ topic, partition, message }) => {
            await reader.commitOffsets([{ topic, partition, offset: String(Number(message.offset) + 1) }]);
            read.set(topic, message.value?.toString() ?? '');
            if (read.size === eventTopics.length) {
              clearTimeout(timer);
              resolve();
            }
          },
        });
      });
      expect(read.get('user-events')).toBe('reference for user-events');
    } finally {
      await reader.disconnect();
    }
    const admin = clientOf(scramEnv('admin'), 'acl-test-admin-check').kafka.admin();
    await admin.connect();
    try {
      const committed = await admin.fetchOffsets({ groupId: consumerGroup, topics: ['user-events'] });
      expect(committed[0]?.partitions[0]?.offset).toBe('1');
    } finally {
      await admin.disconnect();
    }

    const [parked] = await send(consumer.kafka, 'user-events.dlq', 'a dead letter');
    expect(parked).toMatchObject({ topicName: 'user-events.dlq', errorCode: 0 });
    await expect(send(consumer.kafka, 'user-events', 'a forged reference')).rejects.toThrow(/Topic authorization failed/);
    // readFromOffsets joins a group of its own, which is not the consumer's.
    await expectReadRefused(consumer, 'user-events', /Group authorization failed/);
  });

  it('the operator CLI reads the dead letters and replays to an events topic, and cannot read the events topics', async () => {
    const operator = clientOf(scramEnv('operator'), 'acl-test-operator');
    const [letter] = await readFromOffsets(operator.kafka, 'user-events.dlq', [{ partition: 0, from: '0', to: '1' }], { timeoutMs: 30_000 });
    expect(letter?.value?.toString()).toBe('a dead letter');
    const [replayed] = await send(operator.kafka, 'user-events', 'a replayed reference');
    expect(replayed).toMatchObject({ topicName: 'user-events', errorCode: 0 });
    await expectReadRefused(operator, 'user-events', /Topic authorization failed/);
    await expect(send(operator.kafka, 'user-events.dlq', 'a forged dead letter')).rejects.toThrow(/Topic authorization failed/);
  });

  it("the console reads the consumers' lag and the dead letters, and can neither join the consumers' group nor read the events", async () => {
    const consoleUser = clientOf(scramEnv('console'), 'acl-test-console');
    const admin = consoleUser.kafka.admin();
    await admin.connect();
    try {
      expect((await admin.listTopics({ timeout: 10_000 })).sort()).toEqual([...eventTopics, ...eventTopics.map((topic) => `${topic}.dlq`)].sort());
      const [committed] = await admin.fetchOffsets({ groupId: consumerGroup, topics: ['user-events'] });
      expect(committed?.partitions[0]?.offset).toBe('1');
      // The relay's reference and the operator's replay; the forged writes were refused.
      expect((await admin.fetchTopicOffsets('user-events'))[0]?.high).toBe('2');
    } finally {
      await admin.disconnect();
    }
    const [letter] = await readFromOffsets(consoleUser.kafka, 'user-events.dlq', [{ partition: 0, from: '0', to: '1' }], { timeoutMs: 30_000 });
    expect(letter?.value?.toString()).toBe('a dead letter');
    await expectReadRefused(consoleUser, 'user-events', /Topic authorization failed/);
    const member = consoleUser.kafka.consumer({ kafkaJS: { groupId: consumerGroup, fromBeginning: true, autoCommit: false } });
    await member.connect();
    try {
      await member.subscribe({ topics: ['team-events'] });
      let received = 0;
      void member.run({ eachMessage: async () => void received++ });
      await waitForLine(consoleUser.lines, /Group authorization failed/, 30_000);
      expect(received).toBe(0);
    } finally {
      await member.disconnect();
    }
  });

  it('authenticates a PLAIN user too, who sees nothing without an ACL', async () => {
    const plain = clientOf({ KAFKA_SECURITY_PROTOCOL: 'SASL_SSL', KAFKA_SASL_MECHANISM: 'PLAIN', KAFKA_SASL_USERNAME: 'plain', KAFKA_SASL_PASSWORD: passwords.plain }, 'acl-test-plain');
    const admin = plain.kafka.admin();
    await admin.connect();
    try {
      expect(await admin.listTopics({ timeout: 10_000 })).toEqual([]);
    } finally {
      await admin.disconnect();
    }
  });

  it('writes no password to a log line', () => {
    expect(logLines.length).toBeGreaterThan(0);
    const log = logLines.join('\n');
    for (const password of Object.values(passwords)) expect(log).not.toContain(password);
  });
});
