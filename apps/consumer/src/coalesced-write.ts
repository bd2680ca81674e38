import type { Context } from '@opentelemetry/api';
import type { Kysely } from 'kysely';
import type { OrgId } from '@tenant-sync/contracts';
import { pipelineWithTenant, type ConsumerDatabase } from '@tenant-sync/db';
import { coalesce } from './coalesce.ts';
import { isLive, sourceStateWrites, type SourceTombstone } from './synced-tables.ts';
import type { SourceEntity, SyncedType } from './synced-types.ts';

/** What the source answered for a set of ids of one type: live entities and tombstones. */
export interface SourceStates {
  entities: readonly SourceEntity[];
  tombstones: readonly SourceTombstone[];
}

export type WriteStates = (synced: SyncedType, orgId: OrgId, states: SourceStates, trace?: Context) => Promise<void>;

interface Write {
  synced: SyncedType;
  orgId: OrgId;
  states: SourceStates;
  trace: Context | undefined;
}

/**
 * One tenant's writes of one type, asked for at about the same time by the batches of several
 * partitions, made in one transaction, sent as one pipeline (`pipelineWithTenant`). An id named
 * twice keeps its newest state only: one statement cannot write a row twice. The transaction
 * belongs to the first caller's trace.
 */
export function coalesceWrites(db: Kysely<ConsumerDatabase>): WriteStates {
  const write = coalesce(async (_key, writes: Write[]) => {
    const { synced, orgId } = writes[0]!;
    const newest = new Map<string, SourceEntity | SourceTombstone>();
    for (const state of writes.flatMap(({ states }) => [...states.entities, ...states.tombstones])) {
      const seen = newest.get(state.id);
      if (!seen || seen.version < state.version) newest.set(state.id, state);
    }
    const states = [...newest.values()];
    const entities = states.filter(isLive);
    const tombstones = states.filter((state) => !isLive(state));
    const trace = writes.find((write) => write.trace)?.trace;
    await pipelineWithTenant(db, orgId, sourceStateWrites(db, synced, orgId, entities, tombstones), { trace });
    return writes.map(() => undefined);
  });
  return (synced, orgId, states, trace) => write(`${synced.type}/${orgId}`, { synced, orgId, states, trace });
}
