import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import type { Kysely } from 'kysely';
import { withTenant, type SourceDatabase } from '@tenant-sync/db';
import type { SyncedEntity } from '../../synced-entities.ts';
import { refuseInactiveOrg } from '../../plugins/client-certificate.ts';
import type { TenancyQueries } from '../../tenancy.ts';
import { findStates, listVersions } from './queries.ts';
import { membershipSchema, referenceSchemas } from './schemas.ts';

/**
 * The Reference API the consumer reads from, for every synced entity type. Every query runs in
 * a transaction whose tenant is the validated X-Tenant-ID, so RLS decides what exists: another
 * tenant's id is a 404, and a type that is not declared has no route at all.
 */
export const referenceRoutes: FastifyPluginAsyncTypebox<{ db: Kysely<SourceDatabase>; tenancy: TenancyQueries; entities: readonly SyncedEntity[] }> = async (
  app,
  { db, tenancy, entities },
) => {
  const meta = (tenantId: string) => ({ tenantId, retrievedAt: new Date().toISOString() });

  for (const entity of entities) {
    const schemas = referenceSchemas(entity);

    app.get(`/internal/sync/${entity.path}/:id`, { schema: schemas.get, config: { orgStatusInTransaction: true } }, async (request, reply) => {
      const id = (request.params as { id: string }).id.toLowerCase();
      const {
        orgStatus,
        rows: [row],
        tombstones: [tombstone],
      } = await findStates(db, request.tenantId, entity, [id], request.trace);
      refuseInactiveOrg(request, orgStatus);
      if (row) return { data: entity.toApi(row as never), _meta: meta(request.tenantId) };
      if (!tombstone) throw new entity.NotFound();
      const { version, deleted_at: deletedAt } = tombstone;
      return reply.code(410).send({ id, version: Number(version), deletedAt: deletedAt.toISOString() });
    });

    app.post(`/internal/sync/${entity.path}/batch`, { schema: schemas.batch, config: { orgStatusInTransaction: true } }, async (request) => {
      const ids = [...new Set((request.body as { ids: string[] }).ids.map((id) => id.toLowerCase()))];
      const { orgStatus, rows, tombstones } = await findStates(db, request.tenantId, entity, ids, request.trace);
      refuseInactiveOrg(request, orgStatus);
      const known = new Set([...rows.map((row) => row.id), ...tombstones.map((tombstone) => tombstone.id)]);
      return {
        data: rows.map((row) => entity.toApi(row as never)),
        deleted: tombstones.map(({ id, version }) => ({ id, version: Number(version) })),
        missing: ids.filter((id) => !known.has(id)),
        _meta: meta(request.tenantId),
      };
    });

    app.get(`/internal/sync/${entity.path}`, { schema: schemas.list }, async (request) => {
      const { limit, after } = request.query as { limit: number; after?: string };
      const rows = await withTenant(db, request.tenantId, (trx) => listVersions(trx, entity, limit + 1, after?.toLowerCase() ?? null), { trace: request.trace });
      const page = rows.slice(0, limit);
      return {
        items: page.map((row) => ({ id: row.id, version: Number(row.version), deleted: row.deleted })),
        nextCursor: rows.length > limit ? (page.at(-1)?.id ?? null) : null,
      };
    });
  }

  app.get('/internal/tenancy/members/:subject', { schema: membershipSchema }, async (request) => {
    const membership = await tenancy.membership(request.tenantId, request.params.subject);
    return membership ?? { orgStatus: 'ACTIVE', role: null, memberStatus: null };
  });
};
