import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import type { Kysely } from 'kysely';
import { decodeCursor, encodeCursor, PageQuery, UserPage } from '@tenant-sync/contracts';
import { withTenant, type ConsumerDatabase } from '@tenant-sync/db';
import { ErrorResponse } from '@tenant-sync/http';
import { SYNC_INVALID_CURSOR } from '../errors.ts';
import { listLiveUsers, toUser } from '../synced-tables.ts';

/** The synced users of the caller's tenant, read under RLS from the consumer's own database. */
export const cacheUserRoutes: FastifyPluginAsyncTypebox<{ db: Kysely<ConsumerDatabase> }> = async (app, { db }) => {
  app.get(
    '/cache/users',
    { schema: { querystring: PageQuery, response: { 200: UserPage, 400: ErrorResponse, 401: ErrorResponse } } },
    async (request) => {
      const after = request.query.cursor ? decodeCursor(request.query.cursor) : null;
      if (request.query.cursor && !after) throw new SYNC_INVALID_CURSOR();
      const { rows, more } = await withTenant(db, request.principal.orgId, (trx) => listLiveUsers(trx, request.query.limit, after));
      const items = rows.map(toUser);
      const last = items.at(-1);
      return { items, nextCursor: more && last ? encodeCursor(last.createdAt, last.id) : null };
    },
  );
};
