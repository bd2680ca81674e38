import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import type { Kysely } from 'kysely';
import { withTenant, type SourceDatabase } from '@tenant-sync/db';
import { requireRole } from '@tenant-sync/tenant-auth';
import { isUniqueViolation, SRC_DUPLICATE_EMAIL, SRC_INVALID_CURSOR, SRC_USER_NOT_FOUND } from '../../errors.ts';
import { decodeCursor } from '@tenant-sync/contracts';
import { deleteUser, findUser, insertUser, listUsers, toUser, updateUser } from './queries.ts';
import { createUserSchema, deleteUserSchema, getUserSchema, listUsersSchema, updateUserSchema } from './schemas.ts';

/** Users CRUD of the caller's tenant. Every query runs in a tenant transaction under RLS. */
export const userRoutes: FastifyPluginAsyncTypebox<{ db: Kysely<SourceDatabase> }> = async (app, { db }) => {
  const writer = { preHandler: requireRole('tenant_admin') };

  app.post('/users', { schema: createUserSchema, ...writer }, async (request, reply) => {
    const { orgId } = request.principal;
    try {
      const row = await withTenant(db, orgId, (trx) => insertUser(trx, orgId, request.body), { trace: request.trace });
      return reply.code(201).send(toUser(row));
    } catch (error) {
      if (isUniqueViolation(error)) throw new SRC_DUPLICATE_EMAIL();
      throw error;
    }
  });

  app.get('/users', { schema: listUsersSchema }, async (request) => {
    const after = request.query.cursor ? decodeCursor(request.query.cursor) : null;
    if (request.query.cursor && !after) throw new SRC_INVALID_CURSOR();
    const { rows, nextCursor } = await withTenant(db, request.principal.orgId, (trx) => listUsers(trx, request.query.limit, after), { trace: request.trace });
    return { items: rows.map(toUser), nextCursor };
  });

  app.get('/users/:id', { schema: getUserSchema }, async (request) => {
    const row = await withTenant(db, request.principal.orgId, (trx) => findUser(trx, request.params.id), { trace: request.trace });
    if (!row) throw new SRC_USER_NOT_FOUND();
    return toUser(row);
  });

  app.patch('/users/:id', { schema: updateUserSchema, ...writer }, async (request) => {
    try {
      const row = await withTenant(db, request.principal.orgId, (trx) => updateUser(trx, request.params.id, request.body), { trace: request.trace });
      if (!row) throw new SRC_USER_NOT_FOUND();
      return toUser(row);
    } catch (error) {
      if (isUniqueViolation(error)) throw new SRC_DUPLICATE_EMAIL();
      throw error;
    }
  });

  app.delete('/users/:id', { schema: deleteUserSchema, ...writer }, async (request, reply) => {
    const deleted = await withTenant(db, request.principal.orgId, (trx) => deleteUser(trx, request.params.id), { trace: request.trace });
    if (!deleted) throw new SRC_USER_NOT_FOUND();
    return reply.code(204).send(null);
  });
};
