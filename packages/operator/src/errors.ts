import createError from '@fastify/error';

/** A refusal the operator can act on (no such organisation, not a member, …): its message says what to do. */
export const OperatorError = createError('OPERATOR_REFUSED', '%s', 409);
