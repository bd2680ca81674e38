import path from 'node:path';
import pino from 'pino';
import { afterAll, describe, expect, inject, it } from 'vitest';
import { loadConsumerConfig } from '@tenant-sync/config';
import { createDatabase, type ConsumerDatabase } from '@tenant-sync/db';
import { certsDir } from '@tenant-sync/testing';
import { loadTlsMaterial } from '@tenant-sync/tls';
import { buildCacheServer } from '../src/app.ts';
import { syncedTypes } from '../src/synced-types.ts';

// docs/openapi/cache-api.json is a file snapshot of what the cache routes declare: a route
// change not reflected there fails here (and in CI, which never writes snapshots).
// Regenerate with: npx vitest run -u test/openapi.test.ts (in apps/consumer).
describe('OpenAPI document of the cache API', () => {
  const config = loadConsumerConfig({ CONSUMER_DATABASE_URL: inject('infra').consumerAppUrl });
  const db = createDatabase<ConsumerDatabase>({ url: config.CONSUMER_DATABASE_URL, poolSize: 1, applicationName: 'openapi-test' });
  const tls = loadTlsMaterial({
    caFile: path.join(certsDir, 'ca.crt'),
    certFile: path.join(certsDir, 'consumer.crt'),
    keyFile: path.join(certsDir, 'consumer.key'),
  });
  afterAll(() => db.destroy());

  it('docs/openapi/cache-api.json is what the cache listener serves at /docs/json', async () => {
    const server = await buildCacheServer({ config, db, tls, logger: pino({ level: 'silent' }), lookupMembership: async () => null, types: syncedTypes });
    try {
      const served = await server.inject({ url: '/docs/json' });
      expect(served.statusCode).toBe(200);
      await expect(`${JSON.stringify(served.json(), null, 2)}\n`).toMatchFileSnapshot('../../../docs/openapi/cache-api.json');
    } finally {
      await server.close();
    }
  });
});
