import helmet from '@fastify/helmet';
import sensible from '@fastify/sensible';
import type { Kysely } from 'kysely';
import type { Logger } from 'pino';
import type { Registry } from 'prom-client';
import { splitList, type SourceConfig } from '@tenant-sync/config';
import { pingDatabase, type SourceDatabase } from '@tenant-sync/db';
import { createHttpsServer, registerHealthRoutes } from '@tenant-sync/http';
import { cacheMemberships, tenantAuthPlugin, tokenVerifierFromSettings } from '@tenant-sync/tenant-auth';
import { serverTlsOptions, type TlsMaterial } from '@tenant-sync/tls';
import { clientCertificatePlugin } from './plugins/client-certificate.ts';
import { syncedEntities, type SyncedEntity } from './synced-entities.ts';
import { referenceRoutes } from './routes/internal/index.ts';
import { teamRoutes } from './routes/teams/index.ts';
import { userRoutes } from './routes/users/index.ts';
import { createTenancyQueries } from './tenancy.ts';

export interface SourceDependencies {
  config: SourceConfig;
  db: Kysely<SourceDatabase>;
  logger: Logger;
  tls: TlsMaterial;
  /** Where request metrics go (the operations port serves it). */
  registry?: Registry;
  /** The synced types the Reference API serves (`syncedEntities` unless a test declares its own). */
  entities?: readonly SyncedEntity[];
}

/**
 * The public listener (:8001): TLS, bearer JWT, users of the caller's tenant only. It is a
 * Fastify instance of its own, so no route of the internal listener can be reached here.
 */
export async function buildPublicServer({ config, db, logger, tls, registry }: SourceDependencies) {
  const app = await createHttpsServer({
    listener: 'public',
    logger,
    openapi: { title: 'tenant-sync public API', description: "Users of the caller's tenant (bearer JWT)." },
    https: serverTlsOptions(tls),
    bodyLimit: config.BODY_LIMIT_BYTES,
    metrics: registry,
    timeouts: { requestMs: config.HTTP_REQUEST_TIMEOUT_MS, keepAliveMs: config.HTTP_KEEP_ALIVE_TIMEOUT_MS },
  });
  await app.register(helmet);
  await app.register(sensible);

  registerHealthRoutes(app, () => pingDatabase(db));

  const tenancy = createTenancyQueries(db);
  const verifyToken = tokenVerifierFromSettings(config);
  const lookupMembership = cacheMemberships(tenancy.membership, config.AUTH_CACHE_TTL_MS);

  await app.register(async (authenticated) => {
    await authenticated.register(tenantAuthPlugin, { verifyToken, lookupMembership });
    await authenticated.register(userRoutes, { db });
    await authenticated.register(teamRoutes, { db });
  });
  return app;
}

/** The internal listener (:8441): mTLS, allow-listed services, the Reference API. */
export async function buildInternalServer({ config, db, logger, tls, registry, entities = syncedEntities }: SourceDependencies) {
  const app = await createHttpsServer({
    listener: 'internal',
    logger,
    openapi: { title: 'tenant-sync Reference API', description: 'Entities by reference for allow-listed services (mTLS, X-Tenant-ID, X-Consumer-ID).' },
    https: { ...serverTlsOptions(tls, { verifyClients: true }), requestCert: true, rejectUnauthorized: true },
    bodyLimit: config.BODY_LIMIT_BYTES,
    metrics: registry,
    timeouts: { requestMs: config.HTTP_REQUEST_TIMEOUT_MS, keepAliveMs: config.HTTP_KEEP_ALIVE_TIMEOUT_MS },
  });
  await app.register(helmet);

  const tenancy = createTenancyQueries(db);
  await app.register(clientCertificatePlugin, {
    allowedClients: splitList(config.MTLS_ALLOWED_CLIENTS),
    // Asked afresh on every Reference API call: the consumer caches the answer for
    // AUTH_CACHE_TTL_MS, and a second cache here would let a suspended org sync for two TTLs.
    // The fetches of entities read it in their own transaction (`findStates`); the other
    // routes ask it here, one statement before the route runs.
    orgStatus: tenancy.orgStatus,
  });
  await app.register(referenceRoutes, { db, tenancy, entities });
  return app;
}
