import { configOrExit, loadSourceConfig } from '@tenant-sync/config';
import { createDatabase, pingDatabase, type SourceDatabase } from '@tenant-sync/db';
import { buildOpsServer, createLogger, createMetricsRegistry, onShutdownSignal } from '@tenant-sync/ops';
import { daysUntilExpiry, loadTlsMaterial } from '@tenant-sync/tls';
import { buildInternalServer, buildPublicServer } from './app.ts';

const config = configOrExit('source', () => loadSourceConfig());

const logger = createLogger({ app: 'source', level: config.LOG_LEVEL });
const tls = loadTlsMaterial({ caFile: config.TLS_CA_FILE, certFile: config.TLS_CERT_FILE, keyFile: config.TLS_KEY_FILE });
if (daysUntilExpiry(tls) < 30) logger.warn({ notAfter: tls.notAfter }, 'server certificate expires soon');

const db = createDatabase<SourceDatabase>({ url: config.SOURCE_DATABASE_URL, poolSize: config.DATABASE_POOL_SIZE, applicationName: 'source' });
const deps = { config, db, logger, tls };
const publicServer = await buildPublicServer(deps);
const internalServer = await buildInternalServer(deps);
const opsServer = buildOpsServer({
  logger,
  registry: createMetricsRegistry('source'),
  readiness: { postgres: () => pingDatabase(db) },
});

onShutdownSignal(logger, async () => {
  // Stop accepting, let requests in flight finish, then release the pool.
  await Promise.all([publicServer.close(), internalServer.close()]);
  await opsServer.close();
  await db.destroy();
});

await publicServer.listen({ host: config.PUBLIC_HOST, port: config.PUBLIC_PORT });
await internalServer.listen({ host: config.INTERNAL_HOST, port: config.INTERNAL_PORT });
await opsServer.listen({ host: config.OPS_HOST, port: config.OPS_PORT });
logger.info(
  {
    public: `https://localhost:${config.PUBLIC_PORT}`,
    internal: `https://localhost:${config.INTERNAL_PORT} (mTLS)`,
    ops: `http://${config.OPS_HOST}:${config.OPS_PORT}`,
  },
  'source listening',
);
