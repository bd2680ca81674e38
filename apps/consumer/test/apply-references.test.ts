import { randomUUID } from 'node:crypto';
import pino from 'pino';
import { describe, expect, it } from 'vitest';
import { parseOrgId, type User } from '@tenant-sync/contracts';
import { backoffDelay } from '@tenant-sync/ops';
import { applyReferences, defaultSyncPolicy, transientBackoff, type ApplyDependencies, type SyncPolicy } from '../src/apply-references.ts';
import { SourceAuthError, SyncUnavailableError } from '../src/errors.ts';
import { ReferenceApiError, type EntityBatch } from '../src/reference-client.ts';
import type { SourceStates as States } from '../src/coalesced-write.ts';
import { syncedTypes } from '../src/synced-types.ts';

const [users] = syncedTypes as [typeof syncedTypes[number]];

const logger = pino({ level: 'silent' });
const orgId = parseOrgId(randomUUID())!;

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

/** What the source knows: a version per live id, `-v` for an id deleted at version v. */
const knows = (versions: Record<string, number>) => (ids: string[]): EntityBatch => ({
  data: ids.filter((id) => (versions[id] ?? 0) > 0).map((id) => user(id, versions[id]!)),
  deleted: ids.filter((id) => (versions[id] ?? 0) < 0).map((id) => ({ id, version: -versions[id]! })),
  missing: ids.filter((id) => !(id in versions)),
});

/** A Reference API that answers each call with the next scripted step, and a database that records writes. */
function harness(steps: Array<Error | ((ids: string[]) => EntityBatch)>, { policy = defaultSyncPolicy, refuse = (_: States): Error | null => null } = {}) {
  const calls: string[][] = [];
  const writes: States[] = [];
  const sleeps: number[] = [];
  const retries: string[] = [];
  const deps: ApplyDependencies = {
    fetchEntities: async (_type, _org, ids) => {
      calls.push(ids);
      const step = steps[Math.min(calls.length - 1, steps.length - 1)];
      if (step instanceof Error) throw step;
      return step!(ids);
    },
    writeStates: async (_type, _org, states) => {
      const refusal = refuse(states);
      if (refusal) throw refusal;
      writes.push(states);
    },
    logger,
    policy,
    onRetry: (kind) => retries.push(kind),
    wait: async (ms) => void sleeps.push(ms),
    random: () => 0.5,
  };
  return { deps, calls, writes, sleeps, retries };
}

/** An error as postgres.js throws it for a server error. */
const pgError = (code: string, message: string) => Object.assign(new Error(message), { code, name: 'PostgresError' });

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

describe('applyReferences', () => {
  const id = randomUUID();

  it('writes only what the source answers: its state, its tombstone, its versions', async () => {
    const [live, gone] = [randomUUID(), randomUUID()];
    const h = harness([knows({ [live]: 3, [gone]: -7 })]);
    const failures = await applyReferences(h.deps, users, orgId, [live, gone, live]);
    expect(failures.size).toBe(0);
    expect(h.calls).toEqual([[live, gone]]);
    expect(h.writes).toEqual([{ entities: [user(live, 3)].map((u) => ({ ...u, createdAt: expect.any(String), updatedAt: expect.any(String) })), tombstones: [{ id: gone, version: 7 }] }]);
  });

  it('retries network errors and 5xx with backoff, then applies', async () => {
    const h = harness([new TypeError('fetch failed'), new ReferenceApiError(503, 'down'), knows({ [id]: 2 })]);
    expect((await applyReferences(h.deps, users, orgId, [id])).size).toBe(0);
    expect(h.writes[0]?.entities.map((u) => u.id)).toEqual([id]);
    expect(h.sleeps).toEqual([200, 300]);
    expect(h.retries).toEqual(['transient', 'transient']);
  });

  it('throws "unavailable" once the retry budget is spent: the messages wait, none is dead-lettered', async () => {
    const policy: SyncPolicy = { ...defaultSyncPolicy, transient: { initialMs: 10, factor: 1.5, maxMs: 20, attempts: 4 } };
    const h = harness([new ReferenceApiError(502, 'bad gateway')], { policy });
    await expect(applyReferences(h.deps, users, orgId, [id])).rejects.toBeInstanceOf(SyncUnavailableError);
    expect(h.calls).toHaveLength(4);
    expect(h.sleeps).toEqual([10, 15, 20]);
    expect(h.writes).toEqual([]);
  });

  it('asks again for a 404 three times in all, then reports it not found', async () => {
    const h = harness([knows({})]);
    const failures = await applyReferences(h.deps, users, orgId, [id]);
    expect(h.calls).toHaveLength(3);
    expect(h.retries).toEqual(['not_found', 'not_found']);
    expect(failures.get(id)).toEqual({ code: 'not_found', reason: 'entity not found at the source after 3 attempts' });
    expect(h.writes).toEqual([]);
  });

  it('takes an entity that shows up on a later attempt', async () => {
    const other = randomUUID();
    const h = harness([knows({ [other]: 1 }), knows({ [id]: 1, [other]: 1 })]);
    expect((await applyReferences(h.deps, users, orgId, [id, other])).size).toBe(0);
    expect(h.calls).toEqual([[id, other], [id]]);
    expect(h.writes[0]?.entities.map((u) => u.id).sort()).toEqual([id, other].sort());
  });

  it('throws a credential error on 401 at once', async () => {
    const h = harness([new ReferenceApiError(401, 'refused', 'SRC_CLIENT_NOT_AUTHORISED')]);
    await expect(applyReferences(h.deps, users, orgId, [id])).rejects.toBeInstanceOf(SourceAuthError);
    expect(h.calls).toHaveLength(1);
    expect(h.sleeps).toEqual([]);
  });

  it('takes a 403 as the organisation no longer served (suspended since its cached check): org_inactive, no retry, no pause', async () => {
    const h = harness([new ReferenceApiError(403, 'tenant not allowed', 'SRC_TENANT_NOT_ALLOWED')]);
    const failures = await applyReferences(h.deps, users, orgId, [id]);
    expect(failures.get(id)).toEqual({ code: 'org_inactive', reason: 'organisation unknown or not active at the source' });
    expect(h.calls).toHaveLength(1);
    expect(h.writes).toEqual([]);
  });

  it('dead-letters what the source refuses as invalid, without retrying', async () => {
    const h = harness([new ReferenceApiError(400, 'bad request')]);
    const failures = await applyReferences(h.deps, users, orgId, [id]);
    expect(h.calls).toHaveLength(1);
    expect(failures.get(id)).toMatchObject({ code: 'source_rejected' });
  });

  it('isolates a state the database refuses: the others are written, it is tried a few times then dead-lettered', async () => {
    const [good, poison] = [randomUUID(), randomUUID()];
    const refuse = (states: States) =>
      states.entities.some((u) => u.id === poison) ? pgError('23514', 'new row for relation "synced_users" violates check constraint') : null;
    const h = harness([knows({ [good]: 1, [poison]: 1 })], { refuse });
    const failures = await applyReferences(h.deps, users, orgId, [good, poison]);
    expect([...failures]).toEqual([[poison, { code: 'write_rejected', reason: expect.stringContaining('refused the entity 3 times') }]]);
    expect(h.writes.flatMap((w) => w.entities.map((u) => u.id))).toEqual([good]);
    expect(h.retries).toEqual(['write', 'write']);
  });

  it('waits out a database that is down instead of dead-lettering', async () => {
    const h = harness([knows({ [id]: 1 })], { refuse: () => Object.assign(new Error('connect ECONNREFUSED'), { code: 'ECONNREFUSED' }) });
    await expect(applyReferences(h.deps, users, orgId, [id])).rejects.toBeInstanceOf(SyncUnavailableError);
  });
});
