import helmet from '@fastify/helmet';
import sensible from '@fastify/sensible';
import type { Kysely } from 'kysely';
import type { Logger } from 'pino';
import type { Registry } from 'prom-client';
import type { ConsumerConfig } from '@tenant-sync/config';
import { pingDatabase, type ConsumerDatabase } from '@tenant-sync/db';
import { createHttpsServer, registerHealthRoutes } from '@tenant-sync/http';
import { cacheMemberships, tenantAuthPlugin, tokenVerifierFromSettings, type LookupMembership } from '@tenant-sync/tenant-auth';
import { serverTlsOptions, type TlsMaterial } from '@tenant-sync/tls';
import { cacheRoutes } from './routes/cache.ts';
import type { SyncedType } from './synced-types.ts';

export interface CacheServerDependencies {
  config: ConsumerConfig;
  db: Kysely<ConsumerDatabase>;
  logger: Logger;
  tls: TlsMaterial;
  /** Membership as the source knows it (over the Reference API). */
  lookupMembership: LookupMembership;
  /** Where request metrics go (the operations port serves it). */
  registry?: Registry;
  /** The synced types, each served at `/cache/<collection>`. */
  types: readonly SyncedType[];
}

/** The consumer's public listener (:8002): TLS, bearer JWT, the tenant's synced entities of every type. */
export async function buildCacheServer({ config, db, logger, tls, lookupMembership, registry, types }: CacheServerDependencies) {
  const app = await createHttpsServer({
    listener: 'public',
    logger,
    https: serverTlsOptions(tls),
    openapi: { title: 'tenant-sync cache API', description: "The consumer's copy of each tenant's entities (bearer JWT)." },
    metrics: registry,
    timeouts: { requestMs: config.HTTP_REQUEST_TIMEOUT_MS, keepAliveMs: config.HTTP_KEEP_ALIVE_TIMEOUT_MS },
  });
  await app.register(helmet);
  await app.register(sensible);

  registerHealthRoutes(app, () => pingDatabase(db));

  const verifyToken = tokenVerifierFromSettings(config);
  await app.register(async (authenticated) => {
    await authenticated.register(tenantAuthPlugin, {
      verifyToken,
      lookupMembership: cacheMemberships(lookupMembership, config.AUTH_CACHE_TTL_MS),
    });
    await authenticated.register(cacheRoutes, { db, types });
  });
  return app;
}
