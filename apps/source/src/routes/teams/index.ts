import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import type { Kysely } from 'kysely';
import { decodeCursor } from '@tenant-sync/contracts';
import { withTenant, type SourceDatabase } from '@tenant-sync/db';
import { requireRole } from '@tenant-sync/tenant-auth';
import { isUniqueViolation, SRC_DUPLICATE_TEAM_NAME, SRC_INVALID_CURSOR, SRC_TEAM_NOT_FOUND } from '../../errors.ts';
import { deleteTeam, findTeam, insertTeam, listTeams, toTeam, updateTeam } from './queries.ts';
import { createTeamSchema, deleteTeamSchema, getTeamSchema, listTeamsSchema, updateTeamSchema } from './schemas.ts';

/** Teams CRUD of the caller's tenant. Every query runs in a tenant transaction under RLS. */
export const teamRoutes: FastifyPluginAsyncTypebox<{ db: Kysely<SourceDatabase> }> = async (app, { db }) => {
  const writer = { preHandler: requireRole('tenant_admin') };

  app.post('/teams', { schema: createTeamSchema, ...writer }, async (request, reply) => {
    const { orgId } = request.principal;
    try {
      const row = await withTenant(db, orgId, (trx) => insertTeam(trx, orgId, request.body), { trace: request.trace });
      return reply.code(201).send(toTeam(row));
    } catch (error) {
      if (isUniqueViolation(error)) throw new SRC_DUPLICATE_TEAM_NAME();
      throw error;
    }
  });

  app.get('/teams', { schema: listTeamsSchema }, async (request) => {
    const after = request.query.cursor ? decodeCursor(request.query.cursor) : null;
    if (request.query.cursor && !after) throw new SRC_INVALID_CURSOR();
    const { rows, nextCursor } = await withTenant(db, request.principal.orgId, (trx) => listTeams(trx, request.query.limit, after), { trace: request.trace });
    return { items: rows.map(toTeam), nextCursor };
  });

  app.get('/teams/:id', { schema: getTeamSchema }, async (request) => {
    const row = await withTenant(db, request.principal.orgId, (trx) => findTeam(trx, request.params.id), { trace: request.trace });
    if (!row) throw new SRC_TEAM_NOT_FOUND();
    return toTeam(row);
  });

  app.patch('/teams/:id', { schema: updateTeamSchema, ...writer }, async (request) => {
    try {
      const row = await withTenant(db, request.principal.orgId, (trx) => updateTeam(trx, request.params.id, request.body), { trace: request.trace });
      if (!row) throw new SRC_TEAM_NOT_FOUND();
      return toTeam(row);
    } catch (error) {
      if (isUniqueViolation(error)) throw new SRC_DUPLICATE_TEAM_NAME();
      throw error;
    }
  });

  app.delete('/teams/:id', { schema: deleteTeamSchema, ...writer }, async (request, reply) => {
    const deleted = await withTenant(db, request.principal.orgId, (trx) => deleteTeam(trx, request.params.id), { trace: request.trace });
    if (!deleted) throw new SRC_TEAM_NOT_FOUND();
    return reply.code(204).send(null);
  });
};
