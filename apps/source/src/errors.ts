import createError from '@fastify/error';

export const SRC_DUPLICATE_EMAIL = createError('SRC_DUPLICATE_EMAIL', 'a user with this email already exists in the organisation', 409);
export const SRC_USER_NOT_FOUND = createError('SRC_USER_NOT_FOUND', 'user not found', 404);
export const SRC_INVALID_CURSOR = createError('SRC_INVALID_CURSOR', 'cursor is invalid', 400);
