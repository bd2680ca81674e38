import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import type { Kysely } from 'kysely';
import { withTenant, type SourceDatabase } from '@tenant-sync/db';
import { SRC_USER_NOT_FOUND } from '../../errors.ts';
import type { TenancyQueries } from '../../tenancy.ts';
import { toUser } from '../users/queries.ts';
import { findTombstone, findTombstones, listVersions } from './queries.ts';
import { batchReferenceSchema, getReferenceSchema, listVersionsSchema, membershipSchema, orgSchema } from './schemas.ts';

/** Entity types the Reference API serves; anything else is a plain 404. */
const USER = 'user';
/** The same type as the outbox and the tombstones name it. */
const USER_TYPE = 'USER';

/**
 * The Reference API the consumer reads from. Every query runs in a transaction whose tenant is
 * the validated X-Tenant-ID, so RLS decides what exists: another tenant's id is a 404.
 */
export const referenceRoutes: FastifyPluginAsyncTypebox<{ db: Kysely<SourceDatabase>; tenancy: TenancyQueries }> = async (
  app,
  { db, tenancy },
) => {
  const meta = (tenantId: string) => ({ tenantId, retrievedAt: new Date().toISOString() });

  app.get('/internal/sync/:type/:id', { schema: getReferenceSchema }, async (request, reply) => {
    if (request.params.type !== USER) throw new SRC_USER_NOT_FOUND();
    const id = request.params.id.toLowerCase();
    const found = await withTenant(db, request.tenantId, async (trx) => {
      const row = await trx.selectFrom('users').selectAll().where('id', '=', id).executeTakeFirst();
      return row ? { row } : { tombstone: await findTombstone(trx, USER_TYPE, id) };
    });
    if (found.row) return { data: toUser(found.row), _meta: meta(request.tenantId) };
    if (!found.tombstone) throw new SRC_USER_NOT_FOUND();
    const { version, deleted_at: deletedAt } = found.tombstone;
    return reply.code(410).send({ id, version: Number(version), deletedAt: deletedAt.toISOString() });
  });

  app.post('/internal/sync/:type/batch', { schema: batchReferenceSchema }, async (request) => {
    if (request.params.type !== USER) throw new SRC_USER_NOT_FOUND();
    const ids = [...new Set(request.body.ids.map((id) => id.toLowerCase()))];
    const { rows, tombstones } = await withTenant(db, request.tenantId, async (trx) => {
      const rows = await trx.selectFrom('users').selectAll().where('id', 'in', ids).execute();
      const found = new Set(rows.map((row) => row.id));
      const absent = ids.filter((id) => !found.has(id));
      return { rows, tombstones: await findTombstones(trx, USER_TYPE, absent) };
    });
    const known = new Set([...rows.map((row) => row.id), ...tombstones.map((tombstone) => tombstone.id)]);
    return {
      data: rows.map(toUser),
      deleted: tombstones.map(({ id, version }) => ({ id, version: Number(version) })),
      missing: ids.filter((id) => !known.has(id)),
      _meta: meta(request.tenantId),
    };
  });

  app.get('/internal/sync/:type', { schema: listVersionsSchema }, async (request) => {
    if (request.params.type !== USER) throw new SRC_USER_NOT_FOUND();
    const { limit, after } = request.query;
    const rows = await withTenant(db, request.tenantId, (trx) => listVersions(trx, 'users', USER_TYPE, limit + 1, after?.toLowerCase() ?? null));
    const page = rows.slice(0, limit);
    return {
      items: page.map((row) => ({ id: row.id, version: Number(row.version), deleted: row.deleted })),
      nextCursor: rows.length > limit ? (page.at(-1)?.id ?? null) : null,
    };
  });

  // The organisation of X-Tenant-ID. The client-certificate hook has just checked it is ACTIVE
  // (or answered 403), so a consumer can tell "this tenant may be synced" from a credential
  // problem without a second look-up here.
  app.get('/internal/tenancy/org', { schema: orgSchema }, async (request) => ({ id: request.tenantId, status: 'ACTIVE' }));

  app.get('/internal/tenancy/members/:subject', { schema: membershipSchema }, async (request) => {
    const membership = await tenancy.membership(request.tenantId, request.params.subject);
    return membership ?? { orgStatus: 'ACTIVE', role: null, memberStatus: null };
  });
};
