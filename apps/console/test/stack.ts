import { randomUUID } from 'node:crypto';
import { freePort } from '@tenant-sync/local-infra';
import { readTopic, startApp, type AppProcess, type TestInfrastructure } from '@tenant-sync/testing';

/** The three sync apps and the console, wired together on free ports, with topics of their own. */
export interface ConsoleStack {
  /** `https://localhost:<port>` of the console. */
  consoleUrl: string;
  sourceUrl: string;
  cacheUrl: string;
  /** The events and dead-letter topics of users and teams. */
  topics: { user: string; userDlq: string; team: string; teamDlq: string };
  consumerGroup: string;
  apps: { source: AppProcess; relay: AppProcess; consumer: AppProcess; console: AppProcess };
  stop(): Promise<void>;
}

/** Starts source, relay, consumer and console against the test run's databases and Kafka. */
export async function startConsoleStack(infra: TestInfrastructure): Promise<ConsoleStack> {
  const prefix = `console-${randomUUID().slice(0, 8)}`;
  const template = `${prefix}-{type}-events`;
  const topics = { user: `${prefix}-user-events`, userDlq: `${prefix}-user-events.dlq`, team: `${prefix}-team-events`, teamDlq: `${prefix}-team-events.dlq` };
  const consumerGroup = `${prefix}-group`;
  const [publicPort, internalPort, cachePort, consolePort] = await Promise.all([freePort(), freePort(), freePort(), freePort()]);
  const kafka = { KAFKA_BROKERS: infra.brokers, KAFKA_TOPIC_TEMPLATE: template };
  const started: AppProcess[] = [];
  const stopAll = async () => {
    for (const app of started.reverse()) await app.stop();
  };
  try {
    const source = await startApp('source', { SOURCE_DATABASE_URL: infra.sourceAppUrl, PUBLIC_PORT: String(publicPort), INTERNAL_PORT: String(internalPort) }, await freePort());
    started.push(source);
    const relay = await startApp('relay', { ...kafka, RELAY_DATABASE_URL: infra.relayAppUrl }, await freePort());
    started.push(relay);
    // A fresh broker has no group coordinator until a group joins, and the consumer's start-up
    // check (describeGroups) crashes before one exists (confluentinc/confluent-kafka-javascript#531):
    // a reader joins a group first.
    await readTopic(infra.brokers, infra.topic, 1, 3_000);
    const consumer = await startApp(
      'consumer',
      {
        ...kafka,
        CONSUMER_DATABASE_URL: infra.consumerAppUrl,
        KAFKA_GROUP_ID: consumerGroup,
        SOURCE_INTERNAL_URL: `https://localhost:${internalPort}`,
        PUBLIC_PORT: String(cachePort),
        // A tenant's org status is asked again within a second: the tests suspend and reactivate.
        AUTH_CACHE_TTL_MS: '500',
      },
      await freePort(),
    );
    started.push(consumer);
    const consoleApp = await startApp(
      'console',
      {
        ...kafka,
        PUBLIC_PORT: String(consolePort),
        SOURCE_PUBLIC_URL: `https://localhost:${publicPort}`,
        CONSUMER_PUBLIC_URL: `https://localhost:${cachePort}`,
        OPERATOR_DATABASE_URL: infra.operatorUrl,
        KAFKA_GROUP_ID: consumerGroup,
        CONSOLE_INSTANCES: [source, relay, consumer].map((app) => `${app.name}=http://127.0.0.1:${app.opsPort}`).join(','),
        CONSOLE_REFRESH_MS: '1000',
        AUTH_CACHE_TTL_MS: '500',
      },
      await freePort(),
    );
    started.push(consoleApp);
    return {
      consoleUrl: `https://localhost:${consolePort}`,
      sourceUrl: `https://localhost:${publicPort}`,
      cacheUrl: `https://localhost:${cachePort}`,
      topics,
      consumerGroup,
      apps: { source, relay, consumer, console: consoleApp },
      stop: stopAll,
    };
  } catch (error) {
    await stopAll();
    throw error;
  }
}
