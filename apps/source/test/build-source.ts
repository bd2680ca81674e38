import path from 'node:path';
import pino from 'pino';
import { loadSourceConfig } from '@tenant-sync/config';
import { createDatabase, type SourceDatabase } from '@tenant-sync/db';
import { certsDir, type TestInfrastructure } from '@tenant-sync/testing';
import { loadTlsMaterial } from '@tenant-sync/tls';
import { buildInternalServer, buildPublicServer } from '../src/app.ts';

/** Both source listeners over the test database, as the app's own role. */
export async function buildSource(infra: TestInfrastructure, env: NodeJS.ProcessEnv = {}) {
  const config = loadSourceConfig({ SOURCE_DATABASE_URL: infra.sourceAppUrl, AUTH_CACHE_TTL_MS: '0', LOG_LEVEL: 'silent', ...env });
  const db = createDatabase<SourceDatabase>({ url: config.SOURCE_DATABASE_URL, poolSize: 4, applicationName: 'source-test' });
  const tls = loadTlsMaterial({
    caFile: path.join(certsDir, 'ca.crt'),
    certFile: path.join(certsDir, 'source.crt'),
    keyFile: path.join(certsDir, 'source.key'),
  });
  const deps = { config, db, tls, logger: pino({ level: 'silent' }) };
  const publicServer = await buildPublicServer(deps);
  const internalServer = await buildInternalServer(deps);
  return {
    publicServer,
    internalServer,
    db,
    async close() {
      await publicServer.close();
      await internalServer.close();
      await db.destroy();
    },
  };
}
