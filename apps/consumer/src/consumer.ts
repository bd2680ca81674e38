import type { Server as HttpsServer } from 'node:https';
import type { Logger } from 'pino';
import { splitList, type ConsumerConfig } from '@tenant-sync/config';
import { eventTopic } from '@tenant-sync/contracts';
import { createDatabase, pingDatabase, type ConsumerDatabase } from '@tenant-sync/db';
import { brokersAnswer, createKafka, ensureEventTopics, kafkaReadiness, PartitionAssigners } from '@tenant-sync/kafka';
import { buildOpsServer, createLogger, createMetricsRegistry, portAnswers, waitForDependencies } from '@tenant-sync/ops';
import { loadTlsMaterial, serverTlsOptions, watchTlsMaterial } from '@tenant-sync/tls';
import { startTracing } from '@tenant-sync/tracing';
import { buildCacheServer } from './app.ts';
import { coalesceFetches } from './coalesced-fetch.ts';
import { coalesceWrites } from './coalesced-write.ts';
import { createReferenceConsumer } from './consume-references.ts';
import { createDeadLetterQueue } from './dead-letter.ts';
import { createConsumerMetrics } from './metrics.ts';
import { scheduleReconciliation } from './reconcile.ts';
import { createReferenceClient } from './reference-client.ts';
import { tenantsWithSyncedData } from './synced-tables.ts';
import { syncedTypes, type SyncedType } from './synced-types.ts';

export interface ConsumerOptions {
  /** The synced types (`syncedTypes` unless a test declares its own). */
  types?: readonly SyncedType[];
  logger?: Logger;
}

/**
 * The consumer, wired and not yet started: the Kafka loop with its dead letters, the cache API
 * (:8002), reconciliation, the operations port and the certificate watchers. `start()` waits
 * for PostgreSQL, Kafka and the source, then serves; `stop()` closes everything it opened, the
 * last opened first, so the tracing SDK flushes last.
 */
export async function buildConsumer(config: ConsumerConfig, options: ConsumerOptions = {}) {
  const types = options.types ?? syncedTypes;
  const logger = options.logger ?? createLogger({ app: 'consumer', level: config.LOG_LEVEL });
  const tracing = await startTracing('consumer', logger);
  const onClose: Array<() => unknown> = [() => tracing.shutdown()];

  // Two identities: the server certificate of :8002, and the client certificate for the
  // Reference API, which reads every tenant and is never served on the public listener.
  const tlsFiles = { caFile: config.TLS_CA_FILE, certFile: config.TLS_CERT_FILE, keyFile: config.TLS_KEY_FILE };
  const clientTlsFiles = { caFile: config.TLS_CA_FILE, certFile: config.TLS_CLIENT_CERT_FILE, keyFile: config.TLS_CLIENT_KEY_FILE };
  const tls = loadTlsMaterial(tlsFiles);
  const clientTls = loadTlsMaterial(clientTlsFiles);

  const db = createDatabase<ConsumerDatabase>({ url: config.CONSUMER_DATABASE_URL, poolSize: config.DATABASE_POOL_SIZE, applicationName: 'consumer' });
  onClose.push(() => db.destroy());
  const registry = createMetricsRegistry('consumer');
  const metrics = createConsumerMetrics(registry);
  const reference = createReferenceClient({
    baseUrl: config.SOURCE_INTERNAL_URL,
    consumerId: config.CONSUMER_ID,
    tls: clientTls,
    timeoutMs: config.FETCH_TIMEOUT_MS,
    onCall: metrics.fetch,
  });
  onClose.push(() => reference.close());
  const kafka = createKafka({ brokers: config.KAFKA_BROKERS, clientId: 'tenant-sync-consumer', logger, security: config });
  const topics = types.map((synced) => ({ topic: eventTopic(config.KAFKA_TOPIC_TEMPLATE, synced.type), synced }));
  const tenantsSeen = new Set<string>(splitList(config.RECONCILE_TENANTS).map((id) => id.toLowerCase()));

  const dlqProducer = kafka.producer({ kafkaJS: { idempotent: true, acks: -1 } });
  const sync = createReferenceConsumer({
    kafka,
    consumerConfig: {
      // Up to 1,000 messages of a partition per batch: one tenant's share stays within one
      // Reference API call and one multi-row upsert.
      'js.consumer.max.batch.size': 1000,
      // Failover in seconds (docs/consumer.md): a member that dies is out of the group after the
      // session timeout, and cooperative rebalancing moves only its partitions. A fixed
      // KAFKA_GROUP_INSTANCE_ID (static membership) lets a restarted member take its partitions
      // back without any rebalance.
      ...(config.KAFKA_GROUP_INSTANCE_ID ? { 'group.instance.id': config.KAFKA_GROUP_INSTANCE_ID } : {}),
      kafkaJS: {
        groupId: config.KAFKA_GROUP_ID,
        fromBeginning: true,
        sessionTimeout: config.KAFKA_SESSION_TIMEOUT_MS,
        heartbeatInterval: Math.max(500, Math.floor(config.KAFKA_SESSION_TIMEOUT_MS / 6)),
        partitionAssigners: [PartitionAssigners.cooperativeSticky],
      },
    },
    topics,
    deadLetter: createDeadLetterQueue({ producer: dlqProducer, logger, onDeadLettered: metrics.deadLettered }),
    apply: {
      // The partitions' batches are handled side by side: one Reference API call per tenant and type for all of them…
      fetchEntities: coalesceFetches((synced, orgId, ids, trace) => reference.fetchEntities(synced.path, orgId, ids, trace)),
      // …and one transaction per tenant and type for the writes of all of them.
      writeStates: coalesceWrites(db),
    },
    logger,
    metrics,
    authPauseMs: config.SOURCE_AUTH_PAUSE_MS,
    partitionsConsumedConcurrently: config.CONSUMER_CONCURRENCY,
    onTenantSeen: (orgId) => tenantsSeen.add(orgId),
  });
  const kafkaAnswers = kafkaReadiness(
    kafka,
    topics.map(({ topic }) => topic),
  );
  onClose.push(() => kafkaAnswers.close());

  const cacheServer = await buildCacheServer({ config, db, logger, tls, registry, lookupMembership: reference.membership, types });
  // New certificates (file change or SIGHUP) serve the next handshakes on :8002 and are
  // presented on the next Reference API calls; an invalid set is refused and the old one kept.
  const tlsWatcher = watchTlsMaterial(tlsFiles, {
    logger,
    registry,
    initial: tls,
    onReload: (material) => (cacheServer.server as HttpsServer).setSecureContext(serverTlsOptions(material)),
  });
  const clientTlsWatcher = watchTlsMaterial(clientTlsFiles, { logger, registry, initial: clientTls, onReload: (material) => reference.useTls(material) });
  onClose.push(
    () => tlsWatcher.close(),
    () => clientTlsWatcher.close(),
  );
  const opsServer = buildOpsServer({
    logger,
    registry,
    readiness: {
      postgres: () => pingDatabase(db),
      kafka: async () => {
        if (!sync.running()) throw new Error('consumer not running');
        await kafkaAnswers.check();
      },
    },
  });
  onClose.push(() => opsServer.close());

  async function start(): Promise<void> {
    await opsServer.listen({ host: config.OPS_HOST, port: config.OPS_PORT });
    await waitForDependencies(
      { postgres: () => pingDatabase(db), kafka: brokersAnswer(config.KAFKA_BROKERS, { security: config }), source: portAnswers(config.SOURCE_INTERNAL_URL) },
      logger,
    );
    await cacheServer.listen({ host: config.PUBLIC_HOST, port: config.PUBLIC_PORT });
    onClose.push(() => cacheServer.close());
    await ensureEventTopics(
      kafka,
      config,
      types.map((synced) => synced.type),
    );
    await dlqProducer.connect();
    onClose.push(() => dlqProducer.disconnect());
    await sync.start();
    onClose.push(() => sync.stop());
    const reconciliation = scheduleReconciliation({
      intervalMs: config.RECONCILE_INTERVAL_MS,
      tenants: async () => new Set([...tenantsSeen, ...(await tenantsWithSyncedData(db))]),
      options: { db, reference, types, logger },
      onRun: ({ reports, errors }) => {
        for (const report of reports) metrics.reconciled('ok', report);
        for (let i = 0; i < errors.length; i += 1) metrics.reconciled('error');
      },
    });
    onClose.push(() => reconciliation.stop());
    logger.info({ cache: types.map((synced) => `https://localhost:${config.PUBLIC_PORT}/cache/${synced.collection}`), topics: topics.map(({ topic }) => topic), source: config.SOURCE_INTERNAL_URL }, 'consumer running');
  }

  /** Closes what was opened, the last opened first; a failure is logged and the rest still close. */
  async function stop(): Promise<void> {
    for (const close of onClose.splice(0).reverse()) {
      try {
        await close();
      } catch (error) {
        logger.warn({ err: error }, 'closing failed');
      }
    }
  }

  return { start, stop, logger, cacheServer, opsServer };
}

export type ConsumerApp = Awaited<ReturnType<typeof buildConsumer>>;
