import { setTimeout as sleep } from 'node:timers/promises';
import type { Kysely } from 'kysely';
import type { Logger } from 'pino';
import type { EventRejection, User, UserEvent } from '@tenant-sync/contracts';
import { withTenant, type ConsumerDatabase } from '@tenant-sync/db';
import { ReferenceApiError, type ReferenceClient } from './reference-client.ts';
import { transientBackoff, withRetry, type BackoffPolicy } from './retry.ts';
import { localVersions, tombstoneUsers, upsertUsers } from './synced-users.ts';

/** Low-cardinality names of why a message was dead-lettered (metric label, log field). */
export type DeadLetterCode = EventRejection | 'org_inactive' | 'not_found' | 'source_unavailable' | 'source_rejected';

/** An event that cannot be applied; it goes to the dead-letter topic with its reason. */
export interface SyncFailure {
  event: UserEvent;
  code: DeadLetterCode;
  reason: string;
}

export const orgInactiveReason = 'organisation unknown or not active at the source';

/**
 * The source refused our credentials (401/403 on a tenant it knows as active): retrying
 * cannot help and every message would fail, so the partition pauses instead of burning
 * messages into the dead-letter topic.
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

export interface SyncPolicy {
  /** Network errors, 5xx, 408 and 429. */
  transient: BackoffPolicy;
  /** Fetches of an id the source does not have before it counts as not found (the first included). */
  notFoundAttempts: number;
  /** Wait before the n-th re-fetch of missing ids is n times this. */
  notFoundDelayMs: number;
}

export const defaultSyncPolicy: SyncPolicy = { transient: transientBackoff, notFoundAttempts: 3, notFoundDelayMs: 200 };

export interface SyncHooks {
  onRetry?: (kind: 'transient' | 'not_found') => void;
  sleep?: (ms: number) => Promise<unknown>;
  random?: () => number;
}

/** What the events of one tenant come to once the source has been asked. */
export interface TenantChanges {
  /** Current state of every entity created or updated by the events. */
  users: User[];
  /** The newest delete per entity. */
  deletes: UserEvent[];
  /** Created/updated entities the source still did not have after the 404 retries. */
  notFound: SyncFailure[];
  failures: SyncFailure[];
}

export const isTransient = (error: unknown) =>
  !(error instanceof ReferenceApiError) || error.status >= 500 || error.status === 429 || error.status === 408;

/**
 * Fetches, in one round trip per attempt, the current state of every entity the events of one
 * tenant name (the newest event per entity decides: the fetch returns the current state
 * anyway). Network errors and 5xx are retried with backoff and, once the budget is spent,
 * become failures so consumption goes on (reconciliation repairs them later); ids the source
 * does not have are asked for again `notFoundAttempts` times; 401/403 throw `SourceAuthError`.
 */
export async function fetchTenantChanges(
  { reference, logger, policy = defaultSyncPolicy, hooks = {} }: {
    reference: Pick<ReferenceClient, 'fetchUsers'>;
    logger: Logger;
    policy?: SyncPolicy;
    hooks?: SyncHooks;
  },
  orgId: string,
  events: readonly UserEvent[],
  traceparent?: string,
): Promise<TenantChanges> {
  const latest = newestPerEntity(events, (event) => event.entity.id);
  const deletes = latest.filter((event) => event.action === 'DELETED');
  let pending = latest.filter((event) => event.action !== 'DELETED');
  const wait = hooks.sleep ?? sleep;

  const changes: TenantChanges = { users: [], deletes, notFound: [], failures: [] };
  for (let attempt = 1; pending.length > 0; attempt += 1) {
    let answer;
    try {
      answer = await withRetry(
        () => reference.fetchUsers(orgId, pending.map((event) => event.entity.id), traceparent),
        policy.transient,
        isTransient,
        {
          sleep: wait,
          random: hooks.random,
          onRetry: (error, retry, delayMs) => {
            hooks.onRetry?.('transient');
            logger.warn({ err: error, attempt: retry, delayMs }, 'reference fetch failed; retrying');
          },
        },
      );
    } catch (error) {
      if (error instanceof ReferenceApiError && (error.status === 401 || error.status === 403)) {
        throw new SourceAuthError(error.status, error.message);
      }
      const [code, reason] = isTransient(error)
        ? (['source_unavailable', `source unavailable after ${policy.transient.attempts} attempts: ${(error as Error).message}`] as const)
        : (['source_rejected', `source refused the fetch: ${(error as Error).message}`] as const);
      logger.error({ err: error, events: pending.length, code }, 'reference fetch gave up');
      changes.failures.push(...pending.map((event) => ({ event, code, reason })));
      return changes;
    }
    changes.users.push(...answer.data);
    const missing = new Set(answer.missing);
    pending = pending.filter((event) => missing.has(event.entity.id));
    if (pending.length === 0) break;
    if (attempt >= policy.notFoundAttempts) {
      const reason = `entity not found at the source after ${policy.notFoundAttempts} attempts`;
      changes.notFound.push(...pending.map((event) => ({ event, code: 'not_found' as const, reason })));
      break;
    }
    hooks.onRetry?.('not_found');
    await wait(policy.notFoundDelayMs * attempt);
  }
  return changes;
}

/**
 * Writes the changes of one tenant — those of one batch, or of the batches of several
 * partitions gathered by `coalesce` — in one tenant transaction: a multi-row upsert of the
 * users and one of the tombstones, the newest version of each entity winning. An entity that
 * was not found counts as deleted when the local copy already holds a tombstone of a version at
 * least as new as the event; otherwise it fails. Returns the failures of each input, those of
 * its fetch included.
 */
export async function applyTenantChanges(db: Kysely<ConsumerDatabase>, orgId: string, inputs: readonly TenantChanges[]): Promise<SyncFailure[][]> {
  const failures = inputs.map((changes) => [...changes.failures]);
  const users = newestPerEntity(inputs.flatMap((changes) => changes.users), (user) => user.id);
  const deletes = newestPerEntity(inputs.flatMap((changes) => changes.deletes), (event) => event.entity.id).map((event) => ({ id: event.entity.id, version: event.version }));
  const notFound = inputs.flatMap((changes) => changes.notFound);
  if (users.length === 0 && deletes.length === 0 && notFound.length === 0) return failures;
  await withTenant(db, orgId, async (trx) => {
    if (notFound.length > 0) {
      const local = await localVersions(trx, notFound.map(({ event }) => event.entity.id));
      inputs.forEach((changes, index) => {
        for (const failure of changes.notFound) {
          const row = local.get(failure.event.entity.id);
          if (!(row?.deleted && row.version >= failure.event.version)) failures[index]!.push(failure);
        }
      });
    }
    await upsertUsers(trx, users);
    await tombstoneUsers(trx, orgId, deletes);
  });
  return failures;
}

/** The item of the highest version per entity. */
function newestPerEntity<T extends { version: number }>(items: readonly T[], entityOf: (item: T) => string): T[] {
  const byEntity = new Map<string, T>();
  for (const item of items) {
    const seen = byEntity.get(entityOf(item));
    if (!seen || seen.version < item.version) byEntity.set(entityOf(item), item);
  }
  return [...byEntity.values()];
}
