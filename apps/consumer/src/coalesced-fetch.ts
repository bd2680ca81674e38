import type { Context } from '@opentelemetry/api';
import type { OrgId } from '@tenant-sync/contracts';
import { coalesce } from './coalesce.ts';
import type { EntityBatch } from './reference-client.ts';
import type { SourceEntity, SyncedType } from './synced-types.ts';

export type FetchEntities = (synced: SyncedType, orgId: OrgId, ids: string[], trace?: Context) => Promise<EntityBatch>;

/** The most ids the Reference API's batch form takes in one call. */
export const MAX_IDS_PER_CALL = 1000;

interface Ask {
  synced: SyncedType;
  orgId: OrgId;
  ids: string[];
  trace: Context | undefined;
}

/**
 * One tenant's fetches of one type, asked for at about the same time by the batches of several
 * partitions, made as few Reference API calls as the batch form allows (the source's cost is
 * per call far more than per entity); each caller gets the part of the answer it asked for. The
 * merged call belongs to the first caller's trace.
 */
export function coalesceFetches(fetchEntities: FetchEntities): FetchEntities {
  const fetch = coalesce(async (_key, asks: Ask[]): Promise<EntityBatch[]> => {
    const { synced, orgId } = asks[0]!;
    const ids = [...new Set(asks.flatMap((ask) => ask.ids))];
    const trace = asks.find((ask) => ask.trace)?.trace;
    const calls: Promise<EntityBatch>[] = [];
    for (let start = 0; start < ids.length; start += MAX_IDS_PER_CALL) {
      calls.push(fetchEntities(synced, orgId, ids.slice(start, start + MAX_IDS_PER_CALL), trace));
    }
    const answers = await Promise.all(calls);
    const live = new Map<string, SourceEntity>(answers.flatMap((answer) => answer.data.map((entity) => [entity.id, entity] as const)));
    const deleted = new Map(answers.flatMap((answer) => answer.deleted.map((tombstone) => [tombstone.id, tombstone] as const)));
    return asks.map((ask) => ({
      data: ask.ids.flatMap((id) => live.get(id) ?? []),
      deleted: ask.ids.flatMap((id) => deleted.get(id) ?? []),
      missing: ask.ids.filter((id) => !live.has(id) && !deleted.has(id)),
    }));
  });
  return (synced, orgId, ids, trace) => fetch(`${synced.type}/${orgId}`, { synced, orgId, ids: ids.map((id) => id.toLowerCase()), trace });
}
