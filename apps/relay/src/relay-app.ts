import { hostname } from 'node:os';
import type { Logger } from 'pino';
import { splitList, type RelayConfig } from '@tenant-sync/config';
import { pingDatabase } from '@tenant-sync/db';
import { brokersAnswer, createKafka, kafkaReadiness, kafkaSecurityOf } from '@tenant-sync/kafka';
import { buildOpsServer, createLogger, createMetricsRegistry, waitForDependencies } from '@tenant-sync/ops';
import { startTracing } from '@tenant-sync/tracing';
import { createConsumerPace } from './consumer-pace.ts';
import { watchDownstreamLag } from './downstream-lag/watch.ts';
import { createEventTopics } from './event-topics.ts';
import { createRelayMetrics } from './metrics.ts';
import { listenForOutboxCommits } from './outbox-listener.ts';
import { pendingStats } from './outbox.ts';
import { createProducer } from './producer.ts';
import { createRelayDatabase } from './relay-database.ts';
import { createRelay } from './relay.ts';
import { scheduleTombstonePurge } from './tombstone-purge.ts';

/**
 * The relay, wired and not yet started: the outbox loop, its NOTIFY listener, the tombstone
 * purge and the operations port. `start()` waits for PostgreSQL and Kafka, then publishes;
 * `stop()` finishes the batch in flight and closes what `start()` opened, the last first, and
 * the tracing SDK last of all.
 */
export async function buildRelay(config: RelayConfig, options: { logger?: Logger } = {}) {
  const relayId = config.RELAY_ID ?? `${hostname()}-${process.pid}`;
  const logger = (options.logger ?? createLogger({ app: 'relay', level: config.LOG_LEVEL })).child({ relayId });
  const tracing = await startTracing('relay', logger);
  const onClose: Array<() => unknown> = [() => tracing.shutdown()];
  const db = createRelayDatabase(config.RELAY_DATABASE_URL);
  onClose.push(() => db.destroy());
  const kafkaOptions = { brokers: config.KAFKA_BROKERS, clientId: 'tenant-sync-relay', logger, security: config };
  const kafka = createKafka(kafkaOptions);
  const registry = createMetricsRegistry('relay');
  const metrics = createRelayMetrics(registry, () => pendingStats(db));
  const producer = createProducer(kafkaOptions);
  let producing = false;
  const kafkaAnswers = kafkaReadiness(kafka, []);
  onClose.push(() => kafkaAnswers.close());
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
  onClose.push(() => opsServer.close());
  const topics = createEventTopics(kafka, config);
  const lagGroups = splitList(config.RELAY_LAG_GROUPS);
  // Without the consumers' lag the pace stays at RELAY_TENANT_RATE. Under a tenth of
  // RELAY_MAX_LAG, a lag is too small to say the consumers are behind, whatever their rate.
  const pace = config.RELAY_TENANT_RATE > 0 ? createConsumerPace({ ceiling: config.RELAY_TENANT_RATE, minBehind: config.RELAY_MAX_LAG / 10 }) : undefined;
  if (pace) metrics.tenantPace.set(pace.rate());
  const downstream =
    config.RELAY_MAX_LAG > 0 && lagGroups.length > 0
      ? watchDownstreamLag({
          kafka: { brokers: config.KAFKA_BROKERS, security: kafkaSecurityOf(config) },
          groups: lagGroups,
          topics: topics.prepared,
          logger,
          logLevel: config.LOG_LEVEL,
          onRead: (reading) => {
            metrics.downstreamLag.set(reading.lag);
            if (!pace) return;
            pace.read(reading);
            metrics.tenantPace.set(pace.rate());
          },
        })
      : undefined;
  if (downstream) onClose.push(() => downstream.stop());
  const relay = createRelay({
    db,
    producer,
    topics,
    logger,
    metrics,
    relayId,
    batchSize: config.RELAY_BATCH_SIZE,
    pollIntervalMs: config.RELAY_POLL_INTERVAL_MS,
    leaseMs: config.RELAY_LEASE_MS,
    tenantPace: pace?.rate,
    downstream: downstream && { lag: downstream.current, maxLag: config.RELAY_MAX_LAG },
  });

  return {
    logger,
    async start(): Promise<void> {
      await opsServer.listen({ host: config.OPS_HOST, port: config.OPS_PORT });
      await waitForDependencies({ postgres: () => pingDatabase(db), kafka: brokersAnswer(config.KAFKA_BROKERS, { security: config }) }, logger);
      await producer.connect();
      onClose.push(async () => {
        producing = false;
        await producer.disconnect();
      });
      producing = true;
      if (config.TOMBSTONE_PURGE_INTERVAL_MS > 0) {
        const purge = scheduleTombstonePurge({
          db,
          retentionMs: config.TOMBSTONE_RETENTION_MS,
          intervalMs: config.TOMBSTONE_PURGE_INTERVAL_MS,
          logger,
          onPurged: metrics.tombstonesPurged,
        });
        onClose.push(() => purge.stop());
      }
      relay.start();
      onClose.push(() => relay.stop());
      const listener = await listenForOutboxCommits({ url: config.RELAY_DATABASE_URL, logger, onWake: (tenant) => relay.poke(tenant) });
      onClose.push(() => listener.close());
      logger.info({ topics: config.KAFKA_TOPIC_TEMPLATE, brokers: config.KAFKA_BROKERS, ops: `http://${config.OPS_HOST}:${config.OPS_PORT}` }, 'relay running');
    },
    async stop(): Promise<void> {
      for (const close of onClose.splice(0).reverse()) {
        try {
          await close();
        } catch (error) {
          logger.warn({ err: error }, 'closing failed');
        }
      }
    },
  };
}
