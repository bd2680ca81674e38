import net from 'node:net';
import { KafkaJS } from '@confluentinc/kafka-javascript';
import { securityProperties, type KafkaSecuritySettings } from './security.ts';

export interface BrokersAnswerOptions {
  timeoutMs?: number;
  /** The app's Kafka security settings: the check connects as the app does. */
  security?: KafkaSecuritySettings | undefined;
}

/**
 * A check that passes once the brokers can serve an app: a broker accepts connections, answers
 * a metadata request and hands out producer ids (what an idempotent producer asks first). A
 * broker that just started refuses the last for a moment, and the app's own clients would log
 * each refusal as a warning. The check asks with a client of its own whose log lines go nowhere
 * but to this check, and it opens no Kafka client at all while no broker port accepts
 * connections.
 *
 * It does not ask for a consumer group's coordinator: `describeGroups` of a group that does not
 * exist yet crashes the process in @confluentinc/kafka-javascript 1.10 (a NULL assignor string,
 * confluent-kafka-javascript#531), and a consumer's own join waits for its coordinator quietly.
 */
export function brokersAnswer(brokers: string, { timeoutMs = 5_000, security }: BrokersAnswerOptions = {}): () => Promise<void> {
  const addresses = brokers.split(',').map((broker) => broker.trim()).filter(Boolean);
  return async () => {
    const open = await Promise.all(addresses.map((address) => portOpen(address, timeoutMs)));
    if (!open.includes(true)) throw new Error(`no broker of ${brokers} accepts connections`);

    let pidAssigned!: () => void;
    const assigned = new Promise<void>((resolve) => (pidAssigned = resolve));
    const logger: KafkaJS.Logger = {
      // librdkafka's idempotence state machine (debug context `eos`) says when the id arrived.
      debug: (message) => (/Idempotent producer state change \w+ -> Assigned/.test(message) ? pidAssigned() : undefined),
      info: () => {},
      warn: () => {},
      error: () => {},
      namespace: () => logger,
      setLogLevel: () => {},
    };
    const kafka = new KafkaJS.Kafka({ ...securityProperties(security), kafkaJS: { brokers: addresses, clientId: 'tenant-sync-startup', logger, logLevel: KafkaJS.logLevel.DEBUG } });
    const admin = kafka.admin();
    const producer = kafka.producer({ debug: 'eos', kafkaJS: { idempotent: true, acks: -1 } });
    let timer: NodeJS.Timeout | undefined;
    try {
      await admin.connect();
      await admin.listTopics({ timeout: timeoutMs });
      await producer.connect();
      const timedOut = new Promise<never>((_resolve, reject) => {
        timer = setTimeout(() => reject(new Error(`no producer id within ${timeoutMs} ms`)), timeoutMs);
      });
      await Promise.race([assigned, timedOut]);
    } finally {
      clearTimeout(timer);
      await producer.disconnect().catch(() => {});
      await admin.disconnect().catch(() => {});
    }
  };
}

function portOpen(address: string, timeoutMs: number): Promise<boolean> {
  const index = address.lastIndexOf(':');
  const host = address.slice(0, index).replace(/^\[|\]$/g, '') || '127.0.0.1';
  return new Promise((resolve) => {
    const socket = net.connect({ host, port: Number(address.slice(index + 1)) });
    const done = (open: boolean) => {
      socket.destroy();
      resolve(open);
    };
    socket.setTimeout(timeoutMs, () => done(false));
    socket.once('connect', () => done(true));
    socket.once('error', () => done(false));
  });
}
