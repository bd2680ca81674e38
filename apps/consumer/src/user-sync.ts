import { setTimeout as sleep } from 'node:timers/promises';
import type { Kysely } from 'kysely';
import type { Logger } from 'pino';
import type { User, UserEvent } from '@tenant-sync/contracts';
import { withTenant, type ConsumerDatabase } from '@tenant-sync/db';
import { ReferenceApiError, type ReferenceClient } from './reference-client.ts';
import { transientBackoff, withRetry } from './retry.ts';
import { tombstoneUser, upsertUser } from './synced-users.ts';

/** Why events could not be applied; each goes to the dead-letter topic with its reason. */
export interface SyncFailure {
  event: UserEvent;
  reason: string;
}

/** The source refused our credentials: retrying cannot help and every message would fail. */
export class SourceAuthError extends Error {
  readonly code = 'SYNC_SOURCE_AUTH';
}

const notFoundRetries = 3;

const isTransient = (error: unknown) =>
  !(error instanceof ReferenceApiError) || error.status >= 500 || error.status === 429 || error.status === 408;

/**
 * Applies the events of one tenant: fetches the current state of every entity they name in
 * one round trip, writes newer versions and tombstones in one tenant transaction. Returns the
 * events that cannot be applied.
 */
export async function syncTenantEvents(
  { db, reference, logger }: { db: Kysely<ConsumerDatabase>; reference: ReferenceClient; logger: Logger },
  orgId: string,
  events: UserEvent[],
): Promise<SyncFailure[]> {
  // The newest event per entity decides; older ones are covered by the fetch of current state.
  const latest = new Map<string, UserEvent>();
  for (const event of events) {
    const seen = latest.get(event.entity.id);
    if (!seen || seen.version < event.version) latest.set(event.entity.id, event);
  }
  const deletes = [...latest.values()].filter((event) => event.action === 'DELETED');
  let pending = [...latest.values()].filter((event) => event.action !== 'DELETED');

  const users: User[] = [];
  const failures: SyncFailure[] = [];
  for (let round = 0; pending.length > 0; round += 1) {
    const answer = await withRetry(
      () => reference.fetchUsers(orgId, pending.map((event) => event.entity.id)),
      transientBackoff,
      isTransient,
      (error, attempt, delayMs) => logger.warn({ err: error, attempt, delayMs }, 'reference fetch failed; retrying'),
    ).catch((error: unknown) => {
      if (error instanceof ReferenceApiError && (error.status === 401 || error.status === 403)) {
        if (error.status === 403) return null;
        throw new SourceAuthError(error.message);
      }
      throw error;
    });
    if (answer === null) {
      // 403: the organisation is unknown or not active at the source.
      failures.push(...pending.map((event) => ({ event, reason: 'organisation unknown or not active at the source' })));
      break;
    }
    users.push(...answer.data);
    const missing = new Set(answer.missing);
    pending = pending.filter((event) => missing.has(event.entity.id));
    if (pending.length > 0 && round + 1 >= notFoundRetries) {
      failures.push(...pending.map((event) => ({ event, reason: `entity not found at the source after ${notFoundRetries} attempts` })));
      break;
    }
    if (pending.length > 0) await sleep(200 * (round + 1));
  }

  await withTenant(db, orgId, async (trx) => {
    for (const user of users) await upsertUser(trx, user);
    for (const event of deletes) await tombstoneUser(trx, orgId, event.entity.id, event.version);
  });
  return failures;
}
