import createError from '@fastify/error';

export const SRC_DUPLICATE_EMAIL = createError('SRC_DUPLICATE_EMAIL', 'a user with this email already exists in the organisation', 409);
export const SRC_USER_NOT_FOUND = createError('SRC_USER_NOT_FOUND', 'user not found', 404);
export const SRC_TEAM_NOT_FOUND = createError('SRC_TEAM_NOT_FOUND', 'team not found', 404);
export const SRC_DUPLICATE_TEAM_NAME = createError('SRC_DUPLICATE_TEAM_NAME', 'a team with this name already exists in the organisation', 409);
export const SRC_INVALID_CURSOR = createError('SRC_INVALID_CURSOR', 'cursor is invalid', 400);
/** The mTLS peer is not an allow-listed client, or X-Consumer-ID does not name it. */
export const SRC_CLIENT_NOT_AUTHORISED = createError('SRC_CLIENT_NOT_AUTHORISED', 'client not authorised', 401);
/** X-Tenant-ID is missing, not a UUID, or names an organisation that is unknown or not ACTIVE. */
export const SRC_TENANT_NOT_ALLOWED = createError('SRC_TENANT_NOT_ALLOWED', 'tenant not allowed', 403);

/** A write that met a unique key of its tenant (a duplicate email or team name). */
export const isUniqueViolation = (error: unknown): boolean => (error as { code?: string } | null)?.code === '23505';
