import { hostname } from 'node:os';
import { configOrExit, loadRelayConfig } from '@tenant-sync/config';
import { pingDatabase } from '@tenant-sync/db';
import { brokersAnswer, createKafka, kafkaReadiness } from '@tenant-sync/kafka';
import { buildOpsServer, createLogger, createMetricsRegistry, onShutdownSignal, waitForDependencies } from '@tenant-sync/ops';
import { createEventTopics } from './event-topics.ts';
import { createRelayMetrics } from './metrics.ts';
import { listenForOutboxCommits } from './outbox-listener.ts';
import { pendingStats } from './outbox.ts';
import { createProducer } from './producer.ts';
import { createRelayDatabase } from './relay-database.ts';
import { createRelay } from './relay.ts';
import { scheduleTombstonePurge } from './tombstone-purge.ts';

const config = configOrExit('relay', () => loadRelayConfig());

const relayId = config.RELAY_ID ?? `${hostname()}-${process.pid}`;
const logger = createLogger({ app: 'relay', level: config.LOG_LEVEL }).child({ relayId });
const db = createRelayDatabase(config.RELAY_DATABASE_URL);
const kafka = createKafka({ brokers: config.KAFKA_BROKERS, clientId: 'tenant-sync-relay', logger, security: config });
const registry = createMetricsRegistry('relay');
const metrics = createRelayMetrics(registry, () => pendingStats(db));
const producer = createProducer(kafka);

let producing = false;
const kafkaAnswers = kafkaReadiness(kafka, []);
const opsServer = buildOpsServer({
  logger,
  registry,
  readiness: {
    postgres: () => pingDatabase(db),
    kafka: async () => {
      if (!producing) throw new Error('producer not connected');
      await kafkaAnswers.check();
    },
  },
});
await opsServer.listen({ host: config.OPS_HOST, port: config.OPS_PORT });
await waitForDependencies({ postgres: () => pingDatabase(db), kafka: brokersAnswer(config.KAFKA_BROKERS, { security: config }) }, logger);

const relay = createRelay({
  db,
  producer,
  topics: createEventTopics(kafka, config),
  logger,
  metrics,
  relayId,
  batchSize: config.RELAY_BATCH_SIZE,
  pollIntervalMs: config.RELAY_POLL_INTERVAL_MS,
  leaseMs: config.RELAY_LEASE_MS,
});

const tombstonePurge =
  config.TOMBSTONE_PURGE_INTERVAL_MS > 0
    ? scheduleTombstonePurge({ db, retentionMs: config.TOMBSTONE_RETENTION_MS, intervalMs: config.TOMBSTONE_PURGE_INTERVAL_MS, logger, onPurged: metrics.tombstonesPurged })
    : undefined;
const listener = await listenForOutboxCommits({ url: config.RELAY_DATABASE_URL, logger, onWake: () => relay.poke() });
onShutdownSignal(logger, async () => {
  await listener.close();
  await relay.stop();
  await tombstonePurge?.stop();
  await producer.disconnect();
  await opsServer.close();
  await kafkaAnswers.close();
  await db.destroy();
});

await producer.connect();
producing = true;
relay.start();
logger.info({ topics: config.KAFKA_TOPIC_TEMPLATE, brokers: config.KAFKA_BROKERS, ops: `http://${config.OPS_HOST}:${config.OPS_PORT}` }, 'relay running');
