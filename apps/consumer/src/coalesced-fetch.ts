import type { ReferenceBatchResponse, User } from '@tenant-sync/contracts';
import { coalesce } from './coalesce.ts';

export type FetchUsers = (orgId: string, ids: string[], traceparent?: string) => Promise<ReferenceBatchResponse>;

/** The most ids the Reference API's batch form takes in one call. */
export const MAX_IDS_PER_CALL = 1000;

/**
 * One tenant's user fetches, asked for at about the same time by the batches of several
 * partitions, made as few Reference API calls as the batch form allows (the source's cost is
 * per call far more than per user); each caller gets the part of the answer it asked for. The
 * merged call carries the first caller's `traceparent`.
 */
export function coalesceUserFetches(fetchUsers: FetchUsers): FetchUsers {
  const fetch = coalesce(async (orgId, asks: Array<{ ids: string[]; traceparent: string | undefined }>) => {
    const ids = [...new Set(asks.flatMap((ask) => ask.ids))];
    const traceparent = asks.find((ask) => ask.traceparent)?.traceparent;
    const calls: Promise<ReferenceBatchResponse>[] = [];
    for (let start = 0; start < ids.length; start += MAX_IDS_PER_CALL) {
      calls.push(fetchUsers(orgId, ids.slice(start, start + MAX_IDS_PER_CALL), traceparent));
    }
    const answers = await Promise.all(calls);
    const users = new Map<string, User>(answers.flatMap((answer) => answer.data.map((user) => [user.id, user] as const)));
    const deleted = new Map(answers.flatMap((answer) => answer.deleted.map((tombstone) => [tombstone.id, tombstone] as const)));
    const meta = answers[0]!._meta;
    return asks.map((ask) => ({
      data: ask.ids.flatMap((id) => users.get(id) ?? []),
      deleted: ask.ids.flatMap((id) => deleted.get(id) ?? []),
      missing: ask.ids.filter((id) => !users.has(id) && !deleted.has(id)),
      _meta: meta,
    }));
  });
  return (orgId, ids, traceparent) => fetch(orgId, { ids: ids.map((id) => id.toLowerCase()), traceparent });
}
