import type { Server as HttpsServer } from 'node:https';
import { configOrExit, loadConsoleConfig } from '@tenant-sync/config';
import { createDatabase, pingDatabase, type SourceDatabase } from '@tenant-sync/db';
import { brokersAnswer, createKafka } from '@tenant-sync/kafka';
import { buildOpsServer, createLogger, createMetricsRegistry, onShutdownSignal, waitForDependencies } from '@tenant-sync/ops';
import { loadTlsMaterial, serverTlsOptions, watchTlsMaterial } from '@tenant-sync/tls';
import { startTracing } from '@tenant-sync/tracing';
import { buildConsoleServer } from './app.ts';

const config = configOrExit('console', () => loadConsoleConfig());

const logger = createLogger({ app: 'console', level: config.LOG_LEVEL, format: config.LOG_FORMAT });
const tracing = await startTracing('console', logger);
const tlsFiles = { caFile: config.TLS_CA_FILE, certFile: config.TLS_CERT_FILE, keyFile: config.TLS_KEY_FILE };
const tls = loadTlsMaterial(tlsFiles);

// The operator's login: the one cross-tenant role, whose every recorded action names this login.
const db = createDatabase<SourceDatabase>({ url: config.OPERATOR_DATABASE_URL, poolSize: 4, applicationName: 'console' });
const kafka = createKafka({ brokers: config.KAFKA_BROKERS, clientId: 'tenant-sync-console', logger, security: config });
const registry = createMetricsRegistry('console');
const server = await buildConsoleServer({ config, logger, tls, db, kafka, registry });
const tlsWatcher = watchTlsMaterial(tlsFiles, {
  logger,
  initial: tls,
  onReload: (material) => (server.server as HttpsServer).setSecureContext(serverTlsOptions(material, { verifyClients: true })),
});
const kafkaAnswers = brokersAnswer(config.KAFKA_BROKERS, { security: config });
const opsServer = buildOpsServer({ logger, registry, readiness: { postgres: () => pingDatabase(db), kafka: kafkaAnswers } });

onShutdownSignal(logger, async () => {
  tlsWatcher.close();
  await server.close();
  await opsServer.close();
  await db.destroy();
  await tracing.shutdown();
});

await opsServer.listen({ host: config.OPS_HOST, port: config.OPS_PORT });
await waitForDependencies({ postgres: () => pingDatabase(db), kafka: kafkaAnswers }, logger);
await server.listen({ host: config.PUBLIC_HOST, port: config.PUBLIC_PORT });
logger.info({ console: `https://localhost:${config.PUBLIC_PORT}`, operator: `https://localhost:${config.PUBLIC_PORT}/operator`, ops: `http://${config.OPS_HOST}:${config.OPS_PORT}` }, 'console listening');
