import { randomUUID } from 'node:crypto';
import { freePort } from '@tenant-sync/local-infra';
import { startApp, type AppProcess } from './app-process.ts';
import type { TestInfrastructure } from './infrastructure.ts';

export interface RunningSystem {
  /** The system's KAFKA_TOPIC_TEMPLATE; `eventTopic(topicTemplate, 'USER')` is its users' topic. */
  topicTemplate: string;
  /** Where the listeners are: source public (:8001), source internal (:8441), consumer cache (:8002). */
  ports: { public: number; internal: number; cache: number };
  source: AppProcess;
  relay: AppProcess;
  consumer: AppProcess;
  /** SIGTERM to the consumer, the relay and the source, in that order; their exit codes in start order. */
  stop(): Promise<Array<number | null>>;
}

export interface SystemOptions {
  /**
   * The topics of the references (KAFKA_TOPIC_TEMPLATE); new ones by default, so this system's
   * consumer (which reads from the beginning) never replays what earlier tests published.
   */
  topicTemplate?: string;
  /** Variables every app gets on top of its wiring (e.g. `LOG_LEVEL`). */
  env?: Record<string, string>;
}

/**
 * The three real apps, started from their entry points on free ports, wired to each other and
 * to the test run's databases (as their own roles) and Kafka, with a consumer group of their own.
 */
export async function startSystem(infra: TestInfrastructure, options: SystemOptions = {}): Promise<RunningSystem> {
  const { topicTemplate = `system-${randomUUID()}-{type}-events`, env = {} } = options;
  const [publicPort, internalPort, cachePort] = await Promise.all([freePort(), freePort(), freePort()]);
  const kafka = { KAFKA_BROKERS: infra.brokers, KAFKA_TOPIC_TEMPLATE: topicTemplate };
  const started: AppProcess[] = [];
  try {
    const source = await startApp(
      'source',
      { ...env, SOURCE_DATABASE_URL: infra.sourceAppUrl, PUBLIC_PORT: String(publicPort), INTERNAL_PORT: String(internalPort) },
      await freePort(),
    );
    started.push(source);
    const relay = await startApp('relay', { ...env, ...kafka, RELAY_DATABASE_URL: infra.relayAppUrl }, await freePort());
    started.push(relay);
    const consumer = await startApp(
      'consumer',
      {
        ...env,
        ...kafka,
        CONSUMER_DATABASE_URL: infra.consumerAppUrl,
        KAFKA_GROUP_ID: `system-${randomUUID()}`,
        SOURCE_INTERNAL_URL: `https://localhost:${internalPort}`,
        PUBLIC_PORT: String(cachePort),
      },
      await freePort(),
    );
    started.push(consumer);
    return {
      topicTemplate,
      ports: { public: publicPort, internal: internalPort, cache: cachePort },
      source,
      relay,
      consumer,
      async stop() {
        const codes = [];
        for (const app of [consumer, relay, source]) codes.unshift(await app.stop());
        return codes;
      },
    };
  } catch (error) {
    for (const app of started.reverse()) await app.stop();
    throw error;
  }
}
