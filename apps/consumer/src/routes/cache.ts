import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import type { Kysely } from 'kysely';
import { decodeCursor, encodeCursor, PageQuery, pageOf } from '@tenant-sync/contracts';
import { withTenant, type ConsumerDatabase } from '@tenant-sync/db';
import { ErrorResponse } from '@tenant-sync/http';
import { SYNC_INVALID_CURSOR } from '../errors.ts';
import { listLive, toEntity } from '../synced-tables.ts';
import type { SyncedType } from '../synced-types.ts';

/**
 * `GET /cache/<collection>` of every synced type: the caller's tenant's synced entities, read
 * under RLS from the consumer's own database.
 */
export const cacheRoutes: FastifyPluginAsyncTypebox<{ db: Kysely<ConsumerDatabase>; types: readonly SyncedType[] }> = async (app, { db, types }) => {
  for (const synced of types) {
    app.get(
      `/cache/${synced.collection}`,
      { schema: { querystring: PageQuery, response: { 200: pageOf(synced.schema), 400: ErrorResponse, 401: ErrorResponse } } },
      async (request) => {
        const after = request.query.cursor ? decodeCursor(request.query.cursor) : null;
        if (request.query.cursor && !after) throw new SYNC_INVALID_CURSOR();
        const { rows, more } = await withTenant(db, request.principal.orgId, (trx) => listLive(trx, synced, request.query.limit, after), { trace: request.trace });
        const items = rows.map((row) => toEntity(synced, row));
        const last = items.at(-1);
        return { items, nextCursor: more && last ? encodeCursor(last.createdAt, last.id) : null };
      },
    );
  }
};
