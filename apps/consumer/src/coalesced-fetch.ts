import type { ReferenceBatchResponse } from '@tenant-sync/contracts';

export type FetchUsers = (orgId: string, ids: string[], traceparent?: string) => Promise<ReferenceBatchResponse>;

/** The most ids the Reference API's batch form takes in one call. */
export const MAX_IDS_PER_CALL = 1000;

interface Waiter {
  ids: string[];
  resolve: (answer: ReferenceBatchResponse) => void;
  reject: (error: unknown) => void;
}

/**
 * Merges the user fetches of one tenant asked for within `windowMs` (the batches of several
 * partitions handled side by side ask at about the same time) into as few Reference API calls
 * as the batch form allows, and gives each caller the part of the answer it asked for. With
 * ten tenants spread over six partitions this turns six small calls per tenant into one: the
 * source's cost is per call far more than per user.
 *
 * A failed call fails every caller it served; each retries on its own schedule. The merged
 * call carries the first caller's `traceparent`.
 */
export function coalesceUserFetches(fetchUsers: FetchUsers, { windowMs = 2 }: { windowMs?: number } = {}): FetchUsers {
  const pending = new Map<string, { waiters: Waiter[]; traceparent: string | undefined }>();

  async function flush(orgId: string): Promise<void> {
    const round = pending.get(orgId);
    pending.delete(orgId);
    if (!round) return;
    const ids = [...new Set(round.waiters.flatMap((waiter) => waiter.ids))];
    try {
      const calls: Promise<ReferenceBatchResponse>[] = [];
      for (let start = 0; start < ids.length; start += MAX_IDS_PER_CALL) {
        calls.push(fetchUsers(orgId, ids.slice(start, start + MAX_IDS_PER_CALL), round.traceparent));
      }
      const answers = await Promise.all(calls);
      const users = new Map(answers.flatMap((answer) => answer.data.map((user) => [user.id, user] as const)));
      const meta = answers[0]!._meta;
      for (const waiter of round.waiters) {
        waiter.resolve({
          data: waiter.ids.flatMap((id) => users.get(id) ?? []),
          missing: waiter.ids.filter((id) => !users.has(id)),
          _meta: meta,
        });
      }
    } catch (error) {
      for (const waiter of round.waiters) waiter.reject(error);
    }
  }

  return (orgId, ids, traceparent) =>
    new Promise<ReferenceBatchResponse>((resolve, reject) => {
      let round = pending.get(orgId);
      if (!round) {
        round = { waiters: [], traceparent };
        pending.set(orgId, round);
        setTimeout(() => void flush(orgId), windowMs);
      }
      round.waiters.push({ ids: ids.map((id) => id.toLowerCase()), resolve, reject });
    });
}
