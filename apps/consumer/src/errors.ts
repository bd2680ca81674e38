import createError from '@fastify/error';
import { ReferenceApiError } from './reference-client.ts';

/** A page cursor of the cache API that this API did not make. */
export const SYNC_INVALID_CURSOR = createError('SYNC_INVALID_CURSOR', 'cursor is invalid', 400);

/**
 * The source refused our credentials (401): retrying
 * cannot help and every message would fail, so the partition pauses and an alert is raised
 * instead of burning messages into the dead-letter topic.
 */
export class SourceAuthError extends Error {
  readonly code = 'SYNC_SOURCE_AUTH';
  readonly status: number;
  constructor(status: number, message: string) {
    super(message);
    this.name = 'SourceAuthError';
    this.status = status;
  }
}

/**
 * The source or the consumer's database did not answer within the retry budget. Nothing is
 * wrong with the messages: they wait (the partition pauses and is read again), none is
 * dead-lettered.
 */
export class SyncUnavailableError extends Error {
  readonly code = 'SYNC_UNAVAILABLE';
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'SyncUnavailableError';
  }
}

/** Network errors, 5xx, 408 and 429 of the Reference API: worth asking again. */
export const isTransientFetchError = (error: unknown) =>
  !(error instanceof ReferenceApiError) || error.status >= 500 || error.status === 429 || error.status === 408;

/** The Reference API refused our credentials (`SRC_CLIENT_NOT_AUTHORISED`): our certificate or identity, not the message. */
export const isAuthRefusal = (error: unknown): error is ReferenceApiError => error instanceof ReferenceApiError && error.code === 'SRC_CLIENT_NOT_AUTHORISED';

/**
 * The Reference API accepted our credentials but not the tenant (`SRC_TENANT_NOT_ALLOWED`):
 * unknown or suspended at the source, which asks afresh on every call while we cache the
 * org's status.
 */
export const isTenantRefusal = (error: unknown): error is ReferenceApiError => error instanceof ReferenceApiError && error.code === 'SRC_TENANT_NOT_ALLOWED';

/**
 * A PostgreSQL error caused by the data written, which the same write will meet again: a data
 * exception (SQLSTATE class 22, e.g. a value out of range) or an integrity constraint violation
 * (class 23). Anything else — a lost connection, a shutdown, a deadlock, a missing grant — is a
 * state of the database, not of one message, and is waited out.
 */
export function isDataError(error: unknown): boolean {
  const code = (error as { code?: unknown } | null)?.code;
  return typeof code === 'string' && /^2[23][0-9A-Z]{3}$/.test(code);
}

/** Why the messages of an organisation the source does not serve are dead-lettered. */
export const orgInactiveReason = 'organisation unknown or not active at the source';
