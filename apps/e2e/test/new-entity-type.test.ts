import { readFileSync } from 'node:fs';
import path from 'node:path';
import createError from '@fastify/error';
import postgres from 'postgres';
import { Type } from 'typebox';
import { Agent, request } from 'undici';
import { afterAll, beforeAll, describe, expect, it, inject } from 'vitest';
import { loadConsumerConfig, loadSourceConfig } from '@tenant-sync/config';
import { buildConsumer, syncedTypes, type ConsumerApp, type SyncedType } from '@tenant-sync/consumer';
import { freePort } from '@tenant-sync/local-infra';
import { buildSource, syncedEntities, type SyncedEntity } from '@tenant-sync/source';
import { certsDir, eventually, mintToken, startApp, testTenants, type AppProcess } from '@tenant-sync/testing';

const infra = inject('infra');
const { a, b } = testTenants;

/**
 * docs/entities.md, followed to the letter for a type nobody shipped: `PROJECT`. Its two
 * migrations and two declarations are all there is; the relay runs unchanged as a process. The
 * type then syncs end to end: a create, a rename and a delete reach the consumer's copy, under
 * the tenant that wrote them and no other.
 */

// Step 1 — the source's table, prepared as every synced table is.
const sourceMigration = `
  CREATE TABLE projects (
    org_id     uuid NOT NULL REFERENCES organizations (id),
    id         uuid NOT NULL DEFAULT gen_random_uuid(),
    title      text NOT NULL CHECK (char_length(title) BETWEEN 1 AND 200),
    version    bigint NOT NULL DEFAULT 1,
    created_at timestamptz(3) NOT NULL DEFAULT now(),
    updated_at timestamptz(3) NOT NULL DEFAULT now(),
    PRIMARY KEY (org_id, id)
  );
  SELECT prepare_synced_table('projects', 'PROJECT');`;

// Step 2 — the source's declaration: the Reference API serves /internal/sync/project/… from it.
const Project = Type.Object(
  {
    id: Type.String({ format: 'uuid' }),
    orgId: Type.String({ format: 'uuid' }),
    title: Type.String(),
    version: Type.Integer({ minimum: 1 }),
    createdAt: Type.String({ format: 'date-time' }),
    updatedAt: Type.String({ format: 'date-time' }),
  },
  { additionalProperties: false },
);
interface ProjectRow {
  org_id: string;
  id: string;
  title: string;
  version: string;
  created_at: Date;
  updated_at: Date;
}
const sourceProject: SyncedEntity = {
  path: 'project',
  type: 'PROJECT',
  table: 'projects',
  schema: Project,
  toApi: (row: ProjectRow) => ({
    id: row.id,
    orgId: row.org_id,
    title: row.title,
    version: Number(row.version),
    createdAt: row.created_at.toISOString(),
    updatedAt: row.updated_at.toISOString(),
  }),
  NotFound: createError('SRC_PROJECT_NOT_FOUND', 'project not found', 404),
};

// Step 3 — the consumer's table, prepared as every synced table is.
const consumerMigration = `
  CREATE TABLE synced_projects (
    org_id            uuid NOT NULL,
    id                uuid NOT NULL,
    title             text,
    version           bigint NOT NULL,
    deleted_at        timestamptz,
    source_created_at timestamptz(3),
    source_updated_at timestamptz(3),
    synced_at         timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (org_id, id)
  );
  SELECT prepare_synced_table('synced_projects');`;

// Step 4 — the consumer's declaration: how a fetched project maps to its table.
const consumerProject: SyncedType = { type: 'PROJECT', path: 'project', collection: 'projects', table: 'synced_projects', schema: Project, fields: { title: 'title' } };

describe('a new entity type, added through the steps of docs/entities.md', () => {
  const sourceAdmin = postgres(infra.sourceAdminUrl, { max: 1, onnotice: () => {} });
  const consumerAdmin = postgres(infra.consumerAdminUrl, { max: 1, onnotice: () => {} });
  const sourceApp = postgres(infra.sourceAppUrl, { max: 1, onnotice: () => {} });
  const agent = new Agent({ connect: { ca: readFileSync(path.join(certsDir, 'ca.crt')) } });
  const topicTemplate = `new-type-${Date.now()}-{type}`;
  const cachePort = { value: 0 };
  let source: Awaited<ReturnType<typeof buildSource>> | undefined;
  let consumer: ConsumerApp | undefined;
  let relay: AppProcess | undefined;

  /** Runs a migration as the schema's owner, as `migrate` does. */
  const migrate = (sql: postgres.Sql, text: string) => sql.begin(async (trx) => {
    await trx`SET LOCAL ROLE tenant_sync_owner`;
    await trx.unsafe(text);
  });

  /** A write of the app's role under a tenant, as the source's API writes: RLS applies. */
  const asTenant = <T>(orgId: string, work: (trx: postgres.TransactionSql) => Promise<T>) =>
    sourceApp.begin(async (trx) => {
      await trx`SELECT set_config('app.current_tenant', ${orgId}, true)`;
      return work(trx);
    }) as Promise<T>;

  const copy = async (id: string) =>
    (await consumerAdmin`SELECT org_id, title, version::int AS version, deleted_at IS NOT NULL AS deleted FROM synced_projects WHERE id = ${id}`).map((row) => ({ ...row }));

  beforeAll(async () => {
    await migrate(sourceAdmin, sourceMigration);
    await migrate(consumerAdmin, consumerMigration);

    const [publicPort, internalPort, sourceOps, consumerOps] = await Promise.all([freePort(), freePort(), freePort(), freePort()]);
    cachePort.value = await freePort();
    const quiet = { LOG_LEVEL: 'warn' };
    source = await buildSource(
      loadSourceConfig({ ...quiet, SOURCE_DATABASE_URL: infra.sourceAppUrl, PUBLIC_PORT: String(publicPort), INTERNAL_PORT: String(internalPort), OPS_PORT: String(sourceOps) }),
      { entities: [...syncedEntities, sourceProject] },
    );
    await source.start();
    relay = await startApp('relay', { ...quiet, RELAY_DATABASE_URL: infra.relayAppUrl, KAFKA_BROKERS: infra.brokers, KAFKA_TOPIC_TEMPLATE: topicTemplate }, await freePort());
    consumer = await buildConsumer(
      loadConsumerConfig({
        ...quiet,
        CONSUMER_DATABASE_URL: infra.consumerAppUrl,
        KAFKA_BROKERS: infra.brokers,
        KAFKA_TOPIC_TEMPLATE: topicTemplate,
        KAFKA_GROUP_ID: `new-type-${Date.now()}`,
        SOURCE_INTERNAL_URL: `https://localhost:${internalPort}`,
        PUBLIC_PORT: String(cachePort.value),
        OPS_PORT: String(consumerOps),
        RECONCILE_INTERVAL_MS: '0',
      }),
      { types: [...syncedTypes, consumerProject] },
    );
    await consumer.start();
  }, 180_000);

  afterAll(async () => {
    await consumer?.stop();
    await relay?.stop();
    await source?.stop();
    await agent.close();
    // The type was this test's only: its tables, rows and registration go.
    await migrate(sourceAdmin, `DROP TABLE projects; DELETE FROM outbox WHERE aggregate_type = 'PROJECT'; DELETE FROM tombstones WHERE entity_type = 'PROJECT';`);
    await migrate(consumerAdmin, `DELETE FROM synced_tables WHERE name = 'synced_projects'::regclass; DROP TABLE synced_projects;`);
    await Promise.all([sourceAdmin.end(), consumerAdmin.end(), sourceApp.end()]);
  }, 60_000);

  it('syncs a create, a rename and a delete under the tenant that wrote them, and only there', async () => {
    const [project] = await asTenant(a.id, (trx) => trx<{ id: string }[]>`INSERT INTO projects (org_id, title) VALUES (${a.id}, 'Apollo') RETURNING id`);
    const id = project!.id;
    // RLS holds on the new table: B's transaction neither sees nor changes A's project.
    expect(await asTenant(b.id, (trx) => trx`SELECT id FROM projects WHERE id = ${id}`)).toEqual([]);
    expect((await asTenant(b.id, (trx) => trx`UPDATE projects SET title = 'Stolen' WHERE id = ${id}`)).count).toBe(0);

    await eventually(async () => expect(await copy(id)).toEqual([{ org_id: a.id, title: 'Apollo', version: 1, deleted: false }]), 30_000);

    const cache = async (orgId: string, subject: string) => {
      const response = await request(`https://localhost:${cachePort.value}/cache/projects`, {
        dispatcher: agent,
        headers: { authorization: `Bearer ${await mintToken({ orgId, subject })}` },
      });
      return { status: response.statusCode, body: (await response.body.json()) as { items: Array<{ id: string; orgId: string; title: string }> } };
    };
    expect(await cache(a.id, a.admin)).toMatchObject({ status: 200, body: { items: [{ id, orgId: a.id, title: 'Apollo' }] } });
    expect(await cache(b.id, b.admin)).toMatchObject({ status: 200, body: { items: [] } });

    await asTenant(a.id, (trx) => trx`UPDATE projects SET title = 'Apollo 11' WHERE id = ${id}`);
    await eventually(async () => expect(await copy(id)).toEqual([{ org_id: a.id, title: 'Apollo 11', version: 2, deleted: false }]), 30_000);

    await asTenant(a.id, (trx) => trx`DELETE FROM projects WHERE id = ${id}`);
    await eventually(async () => expect(await copy(id)).toEqual([{ org_id: a.id, title: null, version: 3, deleted: true }]), 30_000);
    expect((await cache(a.id, a.admin)).body.items).toEqual([]);
  });
});
