import type { Server as HttpsServer } from 'node:https';
import { configOrExit, loadConsumerConfig, splitList } from '@tenant-sync/config';
import { createDatabase, pingDatabase, type ConsumerDatabase } from '@tenant-sync/db';
import { brokersAnswer, createKafka, ensureEventTopics, kafkaReadiness, PartitionAssigners } from '@tenant-sync/kafka';
import { buildOpsServer, createLogger, createMetricsRegistry, onShutdownSignal, portAnswers, waitForDependencies } from '@tenant-sync/ops';
import { loadTlsMaterial, serverTlsOptions, watchTlsMaterial } from '@tenant-sync/tls';
import { buildCacheServer } from './app.ts';
import { createConsumerMetrics } from './metrics.ts';
import { scheduleReconciliation } from './reconcile.ts';
import { createReferenceClient } from './reference-client.ts';
import { createReferenceConsumer } from './consume-references.ts';
import { createDeadLetterQueue } from './dead-letter.ts';
import { coalesceUserFetches } from './coalesced-fetch.ts';
import { coalesceWrites } from './coalesced-write.ts';
import { tenantsWithSyncedData } from './synced-tables.ts';

const config = configOrExit('consumer', () => loadConsumerConfig());

const logger = createLogger({ app: 'consumer', level: config.LOG_LEVEL });
// Two identities: the server certificate of :8002, and the client certificate for the
// Reference API, which reads every tenant and is never served on the public listener.
const tlsFiles = { caFile: config.TLS_CA_FILE, certFile: config.TLS_CERT_FILE, keyFile: config.TLS_KEY_FILE };
const clientTlsFiles = { caFile: config.TLS_CA_FILE, certFile: config.TLS_CLIENT_CERT_FILE, keyFile: config.TLS_CLIENT_KEY_FILE };
const tls = loadTlsMaterial(tlsFiles);
const clientTls = loadTlsMaterial(clientTlsFiles);

const db = createDatabase<ConsumerDatabase>({ url: config.CONSUMER_DATABASE_URL, poolSize: config.DATABASE_POOL_SIZE, applicationName: 'consumer' });
const registry = createMetricsRegistry('consumer');
const metrics = createConsumerMetrics(registry);
const reference = createReferenceClient({
  baseUrl: config.SOURCE_INTERNAL_URL,
  consumerId: config.CONSUMER_ID,
  tls: clientTls,
  timeoutMs: config.FETCH_TIMEOUT_MS,
  onCall: metrics.fetch,
});
const kafka = createKafka({ brokers: config.KAFKA_BROKERS, clientId: 'tenant-sync-consumer', logger });
const tenantsSeen = new Set<string>(splitList(config.RECONCILE_TENANTS).map((id) => id.toLowerCase()));

const dlqProducer = kafka.producer({ kafkaJS: { idempotent: true, acks: -1 } });
const sync = createReferenceConsumer({
  kafka,
  consumerConfig: {
    // Up to 1,000 messages of a partition per batch: one tenant's share stays within one
    // Reference API call and one multi-row upsert (9 parameters a row, far below 65,535).
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
  topic: config.KAFKA_TOPIC,
  deadLetter: createDeadLetterQueue({ producer: dlqProducer, topic: config.KAFKA_DLQ_TOPIC, logger, metrics }),
  apply: {
    // The partitions' batches are handled side by side: one Reference API call per tenant for all of them…
    fetchUsers: coalesceUserFetches((orgId, ids, traceparent) => reference.fetchUsers(orgId, ids, traceparent)),
    // …and one transaction per tenant for the writes of all of them.
    writeStates: coalesceWrites(db),
  },
  orgActive: reference.orgActive,
  logger,
  metrics,
  orgCacheTtlMs: config.AUTH_CACHE_TTL_MS,
  authPauseMs: config.SOURCE_AUTH_PAUSE_MS,
  partitionsConsumedConcurrently: config.CONSUMER_CONCURRENCY,
  onTenantSeen: (orgId) => tenantsSeen.add(orgId),
});
const reconciliation = scheduleReconciliation({
  intervalMs: config.RECONCILE_INTERVAL_MS,
  tenants: async () => new Set([...tenantsSeen, ...(await tenantsWithSyncedData(db))]),
  options: { db, reference, logger },
  onRun: ({ reports, errors }) => {
    for (const report of reports) metrics.reconciled('ok', report);
    for (let i = 0; i < errors.length; i += 1) metrics.reconciled('error');
  },
});

let consuming = false;
const kafkaAnswers = kafkaReadiness(kafka, config.KAFKA_TOPIC);
const cacheServer = await buildCacheServer({ config, db, logger, tls, registry, lookupMembership: reference.membership });
// New certificates (file change or SIGHUP) serve the next handshakes on :8002 and are
// presented on the next Reference API calls; an invalid set is refused and the old one kept.
const tlsWatcher = watchTlsMaterial(tlsFiles, {
  logger,
  initial: tls,
  onReload: (material) => (cacheServer.server as HttpsServer).setSecureContext(serverTlsOptions(material)),
});
const clientTlsWatcher = watchTlsMaterial(clientTlsFiles, { logger, initial: clientTls, onReload: (material) => reference.useTls(material) });
const opsServer = buildOpsServer({
  logger,
  registry,
  readiness: {
    postgres: () => pingDatabase(db),
    kafka: async () => {
      if (!consuming) throw new Error('consumer not running');
      await kafkaAnswers.check();
    },
  },
});

onShutdownSignal(logger, async () => {
  tlsWatcher.close();
  clientTlsWatcher.close();
  await cacheServer.close();
  await reconciliation.stop();
  await sync.stop();
  await dlqProducer.disconnect();
  await reference.close();
  await opsServer.close();
  await kafkaAnswers.close();
  await db.destroy();
});

await opsServer.listen({ host: config.OPS_HOST, port: config.OPS_PORT });
await waitForDependencies({ postgres: () => pingDatabase(db), kafka: brokersAnswer(config.KAFKA_BROKERS, { group: config.KAFKA_GROUP_ID }), source: portAnswers(config.SOURCE_INTERNAL_URL) }, logger);
await cacheServer.listen({ host: config.PUBLIC_HOST, port: config.PUBLIC_PORT });
await ensureEventTopics(kafka, config);
await dlqProducer.connect();
await sync.start();
consuming = true;
logger.info({ cache: `https://localhost:${config.PUBLIC_PORT}/cache/users`, source: config.SOURCE_INTERNAL_URL }, 'consumer running');
