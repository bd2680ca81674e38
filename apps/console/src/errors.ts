import createError from '@fastify/error';

/** The operator view needs a client certificate from the project CA whose SPIFFE ID is in CONSOLE_OPERATORS. */
export const CONSOLE_OPERATOR_UNAUTHORIZED = createError('CONSOLE_OPERATOR_UNAUTHORIZED', 'an operator client certificate is required', 401);

/** A form posted from another site (or without an Origin): refused before it does anything. */
export const CONSOLE_CROSS_SITE = createError('CONSOLE_CROSS_SITE', 'the request did not come from the console itself', 403);

/** The sign-in form held no readable token. */
export const CONSOLE_TOKEN_INVALID = createError('CONSOLE_TOKEN_INVALID', 'the token is not valid', 401);

/** A dead letter that is not where the form said. */
export const CONSOLE_DEAD_LETTER_NOT_FOUND = createError('CONSOLE_DEAD_LETTER_NOT_FOUND', 'no dead letter at %s', 404);

/** A dead letter the replay rules refuse (not a valid event, or from another topic). */
export const CONSOLE_REPLAY_REFUSED = createError('CONSOLE_REPLAY_REFUSED', 'refused to replay %s: %s', 409);

/** :8001 or :8002 did not answer the read made on the tenant's behalf, or answered with an error. */
export const CONSOLE_UPSTREAM_UNAVAILABLE = createError('CONSOLE_UPSTREAM_UNAVAILABLE', '%s is not available (%s)', 503);

/** An item of another tenant, or of none, in an answer of :8001 or :8002: the whole answer is dropped. */
export const CONSOLE_FOREIGN_ITEM = createError('CONSOLE_FOREIGN_ITEM', '%s answered with an item that is not of the tenant', 503);

/** A replay form that names a topic which is not one of the configured dead-letter topics. */
export const CONSOLE_UNKNOWN_TOPIC = createError('CONSOLE_UNKNOWN_TOPIC', '%s is not a dead-letter topic of this system', 400);
