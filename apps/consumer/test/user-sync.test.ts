import { randomUUID } from 'node:crypto';
import pino from 'pino';
import { describe, expect, it } from 'vitest';
import type { ReferenceBatchResponse, User, UserEvent } from '@tenant-sync/contracts';
import { ReferenceApiError } from '../src/reference-client.ts';
import { backoffDelay, transientBackoff } from '../src/retry.ts';
import { defaultSyncPolicy, fetchTenantChanges, SourceAuthError, type SyncPolicy } from '../src/user-sync.ts';
import { userEvent } from './harness.ts';

const logger = pino({ level: 'silent' });
const orgId = randomUUID();

const event = (id: string, action: UserEvent['action'], version: number): UserEvent => userEvent(orgId, id, action, version);
const user = (id: string, version: number): User => ({
  id,
  orgId,
  name: 'N',
  email: 'n@example.com',
  phone: null,
  version,
  createdAt: new Date().toISOString(),
  updatedAt: new Date().toISOString(),
});

/** A Reference API that answers each call with the next scripted step (an error or the ids it knows). */
function scriptedSource(steps: Array<Error | ((ids: string[]) => ReferenceBatchResponse)>) {
  const calls: string[][] = [];
  return {
    calls,
    async fetchUsers(_org: string, ids: string[]): Promise<ReferenceBatchResponse> {
      calls.push(ids);
      const step = steps[Math.min(calls.length - 1, steps.length - 1)];
      if (step instanceof Error) throw step;
      return step!(ids);
    },
  };
}
const knows = (versions: Record<string, number>) => (ids: string[]): ReferenceBatchResponse => ({
  data: ids.filter((id) => id in versions).map((id) => user(id, versions[id]!)),
  missing: ids.filter((id) => !(id in versions)),
  _meta: { tenantId: orgId, retrievedAt: new Date().toISOString() },
});

function harness(policy: SyncPolicy = defaultSyncPolicy) {
  const sleeps: number[] = [];
  const retries: string[] = [];
  return {
    sleeps,
    retries,
    deps: (reference: ReturnType<typeof scriptedSource>) => ({
      reference,
      logger,
      policy,
      hooks: { sleep: async (ms: number) => void sleeps.push(ms), random: () => 0.5, onRetry: (kind: string) => retries.push(kind) },
    }),
  };
}

describe('backoff', () => {
  it('grows by 1.5, is capped, and jitters within ±50 %', () => {
    const policy = { initialMs: 100, factor: 1.5, maxMs: 1_000, attempts: 10 };
    expect([1, 2, 3, 4].map((n) => backoffDelay(policy, n, () => 0.5))).toEqual([100, 150, 225, 338]);
    expect(backoffDelay(policy, 20, () => 0.5)).toBe(1_000);
    expect(backoffDelay(policy, 1, () => 0)).toBe(50);
    expect(backoffDelay(policy, 1, () => 0.999_999)).toBe(150);
    expect(transientBackoff.factor).toBe(1.5);
  });
});

describe('failure policy of a tenant fetch', () => {
  const id = randomUUID();

  it('retries network errors and 5xx with backoff, then applies', async () => {
    const source = scriptedSource([new TypeError('fetch failed'), new ReferenceApiError(503, 'down'), knows({ [id]: 2 })]);
    const h = harness();
    const changes = await fetchTenantChanges(h.deps(source), orgId, [event(id, 'UPDATED', 2)]);
    expect(changes.users.map((u) => u.id)).toEqual([id]);
    expect(changes.failures).toEqual([]);
    expect(h.sleeps).toEqual([200, 300]);
    expect(h.retries).toEqual(['transient', 'transient']);
  });

  it('dead-letters with the reason once the retry budget is spent, without throwing', async () => {
    const policy = { ...defaultSyncPolicy, transient: { initialMs: 10, factor: 1.5, maxMs: 20, attempts: 4 } };
    const source = scriptedSource([new ReferenceApiError(502, 'bad gateway')]);
    const h = harness(policy);
    const changes = await fetchTenantChanges(h.deps(source), orgId, [event(id, 'CREATED', 1)]);
    expect(source.calls).toHaveLength(4);
    expect(h.sleeps).toEqual([10, 15, 20]);
    expect(changes.failures).toEqual([
      { event: expect.objectContaining({ version: 1 }), code: 'source_unavailable', reason: expect.stringContaining('after 4 attempts') },
    ]);
  });

  it('asks again for a 404 three times in all, then reports it not found', async () => {
    const source = scriptedSource([knows({})]);
    const h = harness();
    const changes = await fetchTenantChanges(h.deps(source), orgId, [event(id, 'CREATED', 1)]);
    expect(source.calls).toHaveLength(3);
    expect(h.retries).toEqual(['not_found', 'not_found']);
    expect(changes.notFound).toEqual([expect.objectContaining({ code: 'not_found', reason: 'entity not found at the source after 3 attempts' })]);
  });

  it('takes an entity that shows up on a later attempt', async () => {
    const other = randomUUID();
    const source = scriptedSource([knows({ [other]: 1 }), knows({ [id]: 1, [other]: 1 })]);
    const changes = await fetchTenantChanges(harness().deps(source), orgId, [event(id, 'CREATED', 1), event(other, 'CREATED', 1)]);
    expect(source.calls).toEqual([[id, other], [id]]);
    expect(changes.users.map((u) => u.id).sort()).toEqual([id, other].sort());
    expect(changes.notFound).toEqual([]);
  });

  it.each([401, 403])('throws a credential error on %i at once', async (status) => {
    const source = scriptedSource([new ReferenceApiError(status, 'refused')]);
    const h = harness();
    await expect(fetchTenantChanges(h.deps(source), orgId, [event(id, 'CREATED', 1)])).rejects.toBeInstanceOf(SourceAuthError);
    expect(source.calls).toHaveLength(1);
    expect(h.sleeps).toEqual([]);
  });

  it('dead-letters what the source refuses as invalid, without retrying', async () => {
    const source = scriptedSource([new ReferenceApiError(400, 'bad request')]);
    const changes = await fetchTenantChanges(harness().deps(source), orgId, [event(id, 'CREATED', 1)]);
    expect(source.calls).toHaveLength(1);
    expect(changes.failures[0]).toMatchObject({ code: 'source_rejected' });
  });

  it('lets the newest event per entity decide and fetches nothing for a delete', async () => {
    const source = scriptedSource([knows({})]);
    const changes = await fetchTenantChanges(harness().deps(source), orgId, [event(id, 'UPDATED', 3), event(id, 'DELETED', 4), event(id, 'UPDATED', 2)]);
    expect(source.calls).toEqual([]);
    expect(changes.deletes).toEqual([expect.objectContaining({ version: 4 })]);
  });
});
