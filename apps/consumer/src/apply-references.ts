import { setTimeout as sleep } from 'node:timers/promises';
import type { Context } from '@opentelemetry/api';
import type { Logger } from 'pino';
import type { OrgId } from '@tenant-sync/contracts';
import type { FetchEntities } from './coalesced-fetch.ts';
import type { SourceStates, WriteStates } from './coalesced-write.ts';
import type { DeadLetterCode } from './dead-letter.ts';
import { isAuthRefusal, isDataError, isTenantRefusal, isTransientFetchError, orgInactiveReason, SourceAuthError, SyncUnavailableError } from './errors.ts';
import { withRetry, type BackoffPolicy } from '@tenant-sync/ops';
import type { SourceTombstone } from './synced-tables.ts';
import type { SourceEntity, SyncedType } from './synced-types.ts';

/** An entity whose reference cannot be applied; its messages go to the dead-letter topic. */
export interface ReferenceFailure {
  code: DeadLetterCode;
  reason: string;
}

export interface SyncPolicy {
  /** Network errors, 5xx, 408 and 429 of the source, within one handling of a batch. */
  transient: BackoffPolicy;
  /** Fetches of an id the source does not have before it counts as not found (the first included). */
  notFoundAttempts: number;
  /** Wait before the n-th re-fetch of missing ids is n times this. */
  notFoundDelayMs: number;
  /** Writes of one entity the database refuses (a data error) before it is dead-lettered. */
  writeAttempts: number;
  writeRetryDelayMs: number;
}

/**
 * Network errors and 5xx: factor 1.5 from 200 ms, capped at 10 s, 8 attempts (about 5 s) within
 * one round of a tenant's references; past that the tenant's lane waits and tries again, so a
 * source that stays away costs waits, never messages.
 */
export const transientBackoff: BackoffPolicy = { initialMs: 200, factor: 1.5, maxMs: 10_000, attempts: 8 };

export const defaultSyncPolicy: SyncPolicy = {
  transient: transientBackoff,
  notFoundAttempts: 3,
  notFoundDelayMs: 200,
  writeAttempts: 3,
  writeRetryDelayMs: 100,
};

export interface ApplyDependencies {
  /** The Reference API's batch fetch (coalesced across partitions). */
  fetchEntities: FetchEntities;
  /** Writes states in one tenant transaction (coalesced across partitions). */
  writeStates: WriteStates;
  logger: Logger;
  policy?: SyncPolicy;
  onRetry?: (kind: 'transient' | 'not_found' | 'write') => void;
  /** Hears how long the round's fetch (retries included) and write (commit included) took. */
  onStage?: (stage: 'fetch' | 'write', seconds: number) => void;
  /** Waits between attempts; tests pass a fake. */
  wait?: (ms: number) => Promise<unknown>;
  random?: () => number;
}

/**
 * Applies one tenant's references to entities of one type: asks the source for the current
 * state of every entity named (one round trip for all of them) and writes what it answers — the
 * entity, or a tombstone with the
 * source's version. Nothing of the messages is written: their action and version are hints only,
 * so a forged reference can at most make the consumer fetch what the tenant owns.
 *
 * Returns the entities that cannot be applied, each with its dead-letter code: ids the source
 * still does not know after the 404 retries, a fetch the source refused (a tenant it no longer
 * serves is `org_inactive`), a state the database refuses every time. Throws
 * `SourceAuthError` when the source refuses our credentials (401) and
 * `SyncUnavailableError` when the source or the database is unavailable past the retry budget:
 * those are not the messages' fault and they must wait, not be dead-lettered.
 */
export async function applyReferences(
  deps: ApplyDependencies,
  synced: SyncedType,
  orgId: OrgId,
  ids: readonly string[],
  trace?: Context,
): Promise<Map<string, ReferenceFailure>> {
  const failures = new Map<string, ReferenceFailure>();
  const fetching = performance.now();
  const states = await fetchStates(deps, synced, orgId, [...new Set(ids)], trace, failures);
  deps.onStage?.('fetch', (performance.now() - fetching) / 1000);
  if (states.entities.length === 0 && states.tombstones.length === 0) return failures;
  const writing = performance.now();
  try {
    await deps.writeStates(synced, orgId, states, trace);
    deps.onStage?.('write', (performance.now() - writing) / 1000);
  } catch (error) {
    if (!isDataError(error)) throw new SyncUnavailableError(`the consumer database failed: ${(error as Error).message}`, { cause: error });
    // One state the database refuses fails the whole transaction: write each entity alone to
    // find it, so the others are applied and only it is dead-lettered.
    deps.logger.warn({ sqlState: sqlStateOf(error), entityType: synced.type, entities: states.entities.length + states.tombstones.length }, 'write refused; writing entity by entity');
    await writeOneByOne(deps, synced, orgId, states, failures, trace);
  }
  return failures;
}

async function fetchStates(
  deps: ApplyDependencies,
  synced: SyncedType,
  orgId: OrgId,
  ids: string[],
  trace: Context | undefined,
  failures: Map<string, ReferenceFailure>,
): Promise<SourceStates> {
  const policy = deps.policy ?? defaultSyncPolicy;
  const wait = deps.wait ?? sleep;
  const states: { entities: SourceEntity[]; tombstones: SourceTombstone[] } = { entities: [], tombstones: [] };
  let pending = ids;
  for (let attempt = 1; pending.length > 0; attempt += 1) {
    let answer;
    try {
      answer = await withRetry(() => deps.fetchEntities(synced, orgId, pending, trace), policy.transient, isTransientFetchError, {
        sleep: wait,
        random: deps.random,
        onRetry: (error, retry, delayMs) => {
          deps.onRetry?.('transient');
          deps.logger.warn({ err: error, attempt: retry, delayMs }, 'reference fetch failed; retrying');
        },
      });
    } catch (error) {
      if (isAuthRefusal(error)) throw new SourceAuthError(error.status, error.message);
      if (isTenantRefusal(error)) {
        // The source serves no such tenant (unknown or suspended): the answer is the message's.
        for (const id of pending) failures.set(id, { code: 'org_inactive', reason: orgInactiveReason });
        return states;
      }
      if (isTransientFetchError(error)) {
        throw new SyncUnavailableError(`source unavailable after ${policy.transient.attempts} attempts: ${(error as Error).message}`, { cause: error });
      }
      const reason = `source refused the fetch: ${(error as Error).message}`;
      deps.logger.error({ err: error, entities: pending.length }, 'reference fetch refused');
      for (const id of pending) failures.set(id, { code: 'source_rejected', reason });
      return states;
    }
    states.entities.push(...answer.data);
    states.tombstones.push(...answer.deleted);
    pending = answer.missing;
    if (pending.length === 0) break;
    if (attempt >= policy.notFoundAttempts) {
      const reason = `entity not found at the source after ${policy.notFoundAttempts} attempts`;
      for (const id of pending) failures.set(id, { code: 'not_found', reason });
      break;
    }
    deps.onRetry?.('not_found');
    await wait(policy.notFoundDelayMs * attempt);
  }
  return states;
}

async function writeOneByOne(
  deps: ApplyDependencies,
  synced: SyncedType,
  orgId: OrgId,
  states: SourceStates,
  failures: Map<string, ReferenceFailure>,
  trace: Context | undefined,
): Promise<void> {
  const policy = deps.policy ?? defaultSyncPolicy;
  const wait = deps.wait ?? sleep;
  const single = [
    ...states.entities.map((entity) => ({ id: entity.id, states: { entities: [entity], tombstones: [] } })),
    ...states.tombstones.map((tombstone) => ({ id: tombstone.id, states: { entities: [], tombstones: [tombstone] } })),
  ];
  for (const entity of single) {
    for (let attempt = 1; ; attempt += 1) {
      try {
        await deps.writeStates(synced, orgId, entity.states, trace);
        break;
      } catch (error) {
        if (!isDataError(error)) throw new SyncUnavailableError(`the consumer database failed: ${(error as Error).message}`, { cause: error });
        if (attempt >= policy.writeAttempts) {
          deps.logger.error({ sqlState: sqlStateOf(error), entityType: synced.type, entityId: entity.id, attempts: attempt }, 'entity refused by the database');
          failures.set(entity.id, { code: 'write_rejected', reason: `the consumer database refused the entity ${attempt} times: ${(error as Error).message}` });
          break;
        }
        deps.onRetry?.('write');
        await wait(policy.writeRetryDelayMs * attempt);
      }
    }
  }
}

/** The SQLSTATE of a database error; logged instead of the error, whose detail may quote the row's personal data. */
const sqlStateOf = (error: unknown) => (error as { code?: unknown }).code;
