import createError from '@fastify/error';

/** Every authentication failure: one code and one body whatever the cause, which is only logged. */
export const AUTH_UNAUTHORIZED = createError('AUTH_UNAUTHORIZED', 'invalid or missing credentials', 401);
/** Authenticated, but the route needs a role the principal does not hold. */
export const AUTH_ROLE_NOT_ALLOWED = createError('AUTH_ROLE_NOT_ALLOWED', 'role not allowed', 403);
