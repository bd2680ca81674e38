import type { Kysely } from 'kysely';
import type { User } from '@tenant-sync/contracts';
import { withTenant, type ConsumerDatabase } from '@tenant-sync/db';
import { coalesce } from './coalesce.ts';
import { isLive, writeSourceStates, type SourceTombstone } from './synced-tables.ts';

export interface States {
  users: readonly User[];
  tombstones: readonly SourceTombstone[];
}

/**
 * One tenant's writes, asked for at about the same time by the batches of several partitions,
 * made in one transaction. An id named twice keeps its newest state only: one statement
 * cannot write a row twice.
 */
export function coalesceWrites(db: Kysely<ConsumerDatabase>): (orgId: string, states: States) => Promise<void> {
  return coalesce(async (orgId, inputs: States[]) => {
    const newest = new Map<string, User | SourceTombstone>();
    for (const state of inputs.flatMap((input) => [...input.users, ...input.tombstones])) {
      const seen = newest.get(state.id);
      if (!seen || seen.version < state.version) newest.set(state.id, state);
    }
    const states = [...newest.values()];
    const users = states.filter(isLive);
    const tombstones = states.filter((state) => !isLive(state));
    await withTenant(db, orgId, (trx) => writeSourceStates(trx, orgId, users, tombstones));
    return inputs.map(() => undefined);
  });
}
