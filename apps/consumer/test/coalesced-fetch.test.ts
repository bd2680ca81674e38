import { randomUUID } from 'node:crypto';
import { trace, type Context } from '@opentelemetry/api';
import { describe, expect, it } from 'vitest';
import { parseOrgId, type User } from '@tenant-sync/contracts';
import { contextOf, traceparentOf } from '@tenant-sync/tracing';
import { coalesceFetches, MAX_IDS_PER_CALL } from '../src/coalesced-fetch.ts';
import type { EntityBatch } from '../src/reference-client.ts';
import { syncedTypes, type SyncedType } from '../src/synced-types.ts';

const [users, teams] = syncedTypes as [SyncedType, SyncedType];
const user = (orgId: string, id: string): User => ({
  id,
  orgId,
  name: 'N',
  email: 'n@example.com',
  phone: null,
  version: 1,
  createdAt: new Date().toISOString(),
  updatedAt: new Date().toISOString(),
});

/** A source that knows every id but those in `gone`, holds tombstones of those in `deleted`, and records its calls. */
function fakeSource(gone: Set<string> = new Set(), deleted: Set<string> = new Set()) {
  const calls: Array<{ type: string; orgId: string; ids: string[]; traceparent: string | undefined }> = [];
  return {
    calls,
    async fetchEntities(synced: SyncedType, orgId: string, ids: string[], context?: Context): Promise<EntityBatch> {
      const span = context && trace.getSpan(context);
      calls.push({ type: synced.type, orgId, ids, traceparent: span && traceparentOf(span) });
      return {
        data: ids.filter((id) => !gone.has(id) && !deleted.has(id)).map((id) => user(orgId, id)),
        deleted: ids.filter((id) => deleted.has(id)).map((id) => ({ id, version: 2 })),
        missing: ids.filter((id) => gone.has(id)),
      };
    },
  };
}

const ids = (n: number) => Array.from({ length: n }, () => randomUUID());
const newOrgId = () => parseOrgId(randomUUID())!;

describe('coalesceFetches', () => {
  it('merges the fetches of one tenant and type asked for together into one call, and gives each caller its own part', async () => {
    const [orgA, orgB] = [newOrgId(), newOrgId()];
    const [first, second, other, teamIds] = [ids(3), ids(2), ids(4), ids(2)];
    const gone = new Set([second[1]!]);
    const source = fakeSource(gone, new Set([first[2]!]));
    const fetchEntities = coalesceFetches(source.fetchEntities);

    const [a1, a2, b] = await Promise.all([
      fetchEntities(users, orgA, first, contextOf('00-aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa-bbbbbbbbbbbbbbbb-01')),
      fetchEntities(users, orgA, [...second, first[0]!]),
      fetchEntities(users, orgB, other),
      fetchEntities(teams, orgA, teamIds),
    ]);
    expect(source.calls.map((call) => [call.type, call.orgId, call.ids.length])).toEqual([
      ['USER', orgA, 5],
      ['USER', orgB, 4],
      ['TEAM', orgA, 2],
    ]);
    expect(source.calls[0]?.traceparent).toBe('00-aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa-bbbbbbbbbbbbbbbb-01');
    expect(a1.data.map((found) => found.id)).toEqual(first.slice(0, 2));
    expect(a1.deleted).toEqual([{ id: first[2], version: 2 }]);
    expect(a1.missing).toEqual([]);
    expect(a2.data.map((found) => found.id)).toEqual([second[0], first[0]]);
    expect(a2.deleted).toEqual([]);
    expect(a2.missing).toEqual([second[1]]);
    expect(b.data.every((found) => found.orgId === orgB)).toBe(true);
    expect(b.data).toHaveLength(4);
  });

  it('splits a tenant round into calls the batch form accepts', async () => {
    const source = fakeSource();
    const fetchEntities = coalesceFetches(source.fetchEntities);
    const orgId = newOrgId();
    const answers = await Promise.all([fetchEntities(users, orgId, ids(MAX_IDS_PER_CALL)), fetchEntities(users, orgId, ids(700))]);
    expect(source.calls.map((call) => call.ids.length)).toEqual([MAX_IDS_PER_CALL, 700]);
    expect(answers.map((answer) => answer.data.length)).toEqual([MAX_IDS_PER_CALL, 700]);
  });

  it('fails every caller of a failed call, and the next round calls again', async () => {
    let fail = true;
    const fetchEntities = coalesceFetches(async (_type, orgId, asked) => {
      if (fail) throw new Error('source down');
      return { data: asked.map((id) => user(orgId, id)), deleted: [], missing: [] };
    });
    const orgId = newOrgId();
    const results = await Promise.allSettled([fetchEntities(users, orgId, ids(1)), fetchEntities(users, orgId, ids(1))]);
    expect(results.map((result) => result.status)).toEqual(['rejected', 'rejected']);
    fail = false;
    expect((await fetchEntities(users, orgId, ids(2))).data).toHaveLength(2);
  });
});
