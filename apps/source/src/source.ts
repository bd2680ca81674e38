import type { Server as HttpsServer } from 'node:https';
import type { Logger } from 'pino';
import type { SourceConfig } from '@tenant-sync/config';
import { createDatabase, pingDatabase, type SourceDatabase } from '@tenant-sync/db';
import { buildOpsServer, createLogger, createMetricsRegistry, waitForDependencies } from '@tenant-sync/ops';
import { loadTlsMaterial, serverTlsOptions, watchTlsMaterial } from '@tenant-sync/tls';
import { startTracing } from '@tenant-sync/tracing';
import { buildInternalServer, buildPublicServer } from './app.ts';
import type { SyncedEntity } from './synced-entities.ts';

export interface SourceOptions {
  /** The synced types the Reference API serves (`syncedEntities` unless a test declares its own). */
  entities?: readonly SyncedEntity[];
  logger?: Logger;
}

/**
 * The source, wired and not yet started: the public API (:8001), the Reference API (:8441),
 * the operations port and the certificate watcher. `start()` waits for PostgreSQL, then
 * listens; `stop()` stops accepting, lets requests in flight finish, releases the pool and
 * flushes the spans not yet exported.
 */
export async function buildSource(config: SourceConfig, options: SourceOptions = {}) {
  const logger = options.logger ?? createLogger({ app: 'source', level: config.LOG_LEVEL });
  const tracing = await startTracing('source', logger);
  const tlsFiles = { caFile: config.TLS_CA_FILE, certFile: config.TLS_CERT_FILE, keyFile: config.TLS_KEY_FILE };
  const tls = loadTlsMaterial(tlsFiles);
  const db = createDatabase<SourceDatabase>({ url: config.SOURCE_DATABASE_URL, poolSize: config.DATABASE_POOL_SIZE, applicationName: 'source' });
  const registry = createMetricsRegistry('source');
  const deps = { config, db, logger, tls, registry, ...(options.entities ? { entities: options.entities } : {}) };
  const publicServer = await buildPublicServer(deps);
  const internalServer = await buildInternalServer(deps);
  // New certificates (file change or SIGHUP) apply to new handshakes; setSecureContext replaces
  // every context option, so protocol, suites and the CA that verifies clients are passed again.
  const tlsWatcher = watchTlsMaterial(tlsFiles, {
    logger,
    registry,
    initial: tls,
    onReload: (material) => {
      (publicServer.server as HttpsServer).setSecureContext(serverTlsOptions(material));
      (internalServer.server as HttpsServer).setSecureContext(serverTlsOptions(material, { verifyClients: true }));
    },
  });
  const opsServer = buildOpsServer({ logger, registry, readiness: { postgres: () => pingDatabase(db) } });

  return {
    logger,
    publicServer,
    internalServer,
    async start(): Promise<void> {
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
    },
    async stop(): Promise<void> {
      tlsWatcher.close();
      await Promise.all([publicServer.close(), internalServer.close()]);
      await opsServer.close();
      await db.destroy();
      await tracing.shutdown();
    },
  };
}
