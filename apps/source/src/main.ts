import type { Server as HttpsServer } from 'node:https';
import { configOrExit, loadSourceConfig } from '@tenant-sync/config';
import { createDatabase, pingDatabase, type SourceDatabase } from '@tenant-sync/db';
import { buildOpsServer, createLogger, createMetricsRegistry, onShutdownSignal, waitForDependencies } from '@tenant-sync/ops';
import { loadTlsMaterial, serverTlsOptions, watchTlsMaterial } from '@tenant-sync/tls';
import { buildInternalServer, buildPublicServer } from './app.ts';

const config = configOrExit('source', () => loadSourceConfig());

const logger = createLogger({ app: 'source', level: config.LOG_LEVEL });
const tlsFiles = { caFile: config.TLS_CA_FILE, certFile: config.TLS_CERT_FILE, keyFile: config.TLS_KEY_FILE };
const tls = loadTlsMaterial(tlsFiles);

const db = createDatabase<SourceDatabase>({ url: config.SOURCE_DATABASE_URL, poolSize: config.DATABASE_POOL_SIZE, applicationName: 'source' });
const registry = createMetricsRegistry('source');
const deps = { config, db, logger, tls, registry };
const publicServer = await buildPublicServer(deps);
const internalServer = await buildInternalServer(deps);
// New certificates (file change or SIGHUP) apply to new handshakes; setSecureContext replaces
// every context option, so protocol, suites and the CA that verifies clients are passed again.
const tlsWatcher = watchTlsMaterial(tlsFiles, {
  logger,
  initial: tls,
  onReload: (material) => {
    (publicServer.server as HttpsServer).setSecureContext(serverTlsOptions(material));
    (internalServer.server as HttpsServer).setSecureContext(serverTlsOptions(material, { verifyClients: true }));
  },
});
const opsServer = buildOpsServer({
  logger,
  registry,
  readiness: { postgres: () => pingDatabase(db) },
});

onShutdownSignal(logger, async () => {
  // Stop accepting, let requests in flight finish, then release the pool.
  tlsWatcher.close();
  await Promise.all([publicServer.close(), internalServer.close()]);
  await opsServer.close();
  await db.destroy();
});

await waitForDependencies({ postgres: () => pingDatabase(db) }, logger);
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
