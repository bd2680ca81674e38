import { randomUUID } from 'node:crypto';
import path from 'node:path';
import type { EntityEvent } from '@tenant-sync/contracts';
import { freePort } from '@tenant-sync/local-infra';
import { certsDir, startApp, type AppProcess, type TestInfrastructure } from '@tenant-sync/testing';
import { loadTlsMaterial, type TlsMaterial } from '@tenant-sync/tls';

/** A reference as the relay publishes it. */
export const userEvent = (orgId: string, id: string, action: EntityEvent['action'], version: number): EntityEvent => ({
  event_id: randomUUID(),
  entity: { type: 'USER', id },
  action,
  version,
  timestamp: new Date().toISOString(),
  source_system: 'test',
  tenant_context: { org_id: orgId },
});

/** The consumer's development client certificate for the Reference API, as the app loads it. */
export const consumerTls = (): TlsMaterial =>
  loadTlsMaterial({
    caFile: path.join(certsDir, 'ca.crt'),
    certFile: path.join(certsDir, 'consumer-client.crt'),
    keyFile: path.join(certsDir, 'consumer-client.key'),
  });

/** The real source app over the test database; `internalUrl` is its Reference API. */
export async function startSource(infra: TestInfrastructure): Promise<{ source: AppProcess; internalUrl: string }> {
  const internalPort = await freePort();
  const source = await startApp(
    'source',
    { SOURCE_DATABASE_URL: infra.sourceAppUrl, PUBLIC_PORT: String(await freePort()), INTERNAL_PORT: String(internalPort) },
    await freePort(),
  );
  return { source, internalUrl: `https://localhost:${internalPort}` };
}
