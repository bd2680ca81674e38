import { parseArgs } from 'node:util';
import { configOrExit, loadConsumerConfig, splitList } from '@tenant-sync/config';
import { isOrgId } from '@tenant-sync/contracts';
import { createDatabase, type ConsumerDatabase } from '@tenant-sync/db';
import { createLogger } from '@tenant-sync/ops';
import { loadTlsMaterial } from '@tenant-sync/tls';
import { reconcileTenants } from './reconcile.ts';
import { createReferenceClient } from './reference-client.ts';
import { tenantsWithSyncedData } from './synced-tables.ts';
import { syncedTypes } from './synced-types.ts';

/**
 * On-demand reconciliation: `nx run consumer:reconcile [-- --org <uuid> ...] [--deep]`.
 * Without `--org` it covers RECONCILE_TENANTS and every tenant the consumer holds rows for. Prints progress, one line per tenant and a
 * JSON summary; exits 1 when a tenant failed.
 */
const { values } = parseArgs({
  options: { org: { type: 'string', multiple: true }, deep: { type: 'boolean', default: false } },
  allowPositionals: false,
});
const config = configOrExit('consumer', () => loadConsumerConfig());
const invalid = (values.org ?? []).filter((id) => !isOrgId(id));
if (invalid.length > 0) {
  console.error(`not an org id: ${invalid.join(', ')}`);
  process.exit(2);
}

const logger = createLogger({ app: 'consumer-reconcile', level: config.LOG_LEVEL === 'info' ? 'warn' : config.LOG_LEVEL });
const tls = loadTlsMaterial({ caFile: config.TLS_CA_FILE, certFile: config.TLS_CLIENT_CERT_FILE, keyFile: config.TLS_CLIENT_KEY_FILE });
const db = createDatabase<ConsumerDatabase>({ url: config.CONSUMER_DATABASE_URL, poolSize: 2, applicationName: 'consumer-reconcile' });
const reference = createReferenceClient({ baseUrl: config.SOURCE_INTERNAL_URL, consumerId: config.CONSUMER_ID, tls, timeoutMs: config.FETCH_TIMEOUT_MS });
const orgIds = values.org?.length ? values.org : [...splitList(config.RECONCILE_TENANTS), ...(await tenantsWithSyncedData(db))];

let failed = true;
try {
  const started = performance.now();
  const { reports, errors } = await reconcileTenants(
    {
      db,
      reference,
      types: syncedTypes,
      logger,
      deep: values.deep,
      onProgress: (orgId, entityType, checked) => process.stderr.write(`  ${orgId} ${entityType}: ${checked} checked\n`),
    },
    orgIds,
  );
  for (const r of reports) {
    console.log(
      r.skipped
        ? `${r.orgId} ${r.entityType}: skipped (${r.skipped})`
        : `${r.orgId} ${r.entityType}: checked ${r.checked}, inserted ${r.inserted}, updated ${r.updated}, tombstoned ${r.tombstoned}, removed ${r.removed}`,
    );
  }
  for (const { orgId, error } of errors) console.log(`${orgId}: FAILED ${(error as Error).message}`);
  console.log(JSON.stringify({ tenants: reports, failed: errors.map((e) => e.orgId), ms: Math.round(performance.now() - started) }));
  failed = errors.length > 0;
} finally {
  await reference.close();
  await db.destroy();
}
process.exitCode = failed ? 1 : 0;
