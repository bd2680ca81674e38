import { describe, expect, it } from 'vitest';
import { compareCopies } from '../../src/tenant/compare-copies.ts';
import type { EntityListing, EntityVersion } from '../../src/tenant/tenant-apis.ts';

const orgId = '00000000-0000-0000-0000-000000000000';
const now = new Date('2026-11-27T01:00:10Z');
const entity = (id: string, version: number, updatedAt: string): EntityVersion => ({ id, orgId, version, updatedAt, name: `name ${id}` });
const listing = (...items: EntityVersion[]): EntityListing => ({ available: true, items, complete: true });

describe('compareCopies', () => {
  it('counts what the copy lacks: newer at the source, not copied, deleted at the source', () => {
    const source = listing(entity('a', 2, '2026-11-27T01:00:00Z'), entity('b', 1, '2026-11-27T01:00:05Z'), entity('c', 1, '2026-11-27T00:59:00Z'));
    const copy = listing(entity('a', 1, '2026-11-27T00:58:00Z'), entity('c', 1, '2026-11-27T00:59:00Z'), entity('gone', 3, '2026-11-27T00:57:00Z'));
    const result = compareCopies(source, copy, now);
    expect(result?.pending).toBe(3);
    expect(result?.oldestPendingSeconds).toBe(10);
    expect(result?.newestSynced?.id).toBe('c');
    expect(result?.recent.map((row) => [row.id, row.state])).toEqual([
      ['b', 'not copied yet'],
      ['a', 'behind'],
      ['c', 'in sync'],
      ['gone', 'deletion pending'],
    ]);
  });

  it('is in sync when every version matches, and unknown when a side is not available', () => {
    const both = listing(entity('a', 4, '2026-11-27T01:00:00Z'));
    expect(compareCopies(both, both, now)).toMatchObject({ pending: 0, oldestPendingSeconds: null });
    expect(compareCopies(both, { available: false, problem: 'answered 404' }, now)).toBeNull();
  });

  it('does not call an entity deleted when the source list was cut at the scan limit', () => {
    const source: EntityListing = { available: true, items: [entity('a', 1, '2026-11-27T01:00:00Z')], complete: false };
    const copy = listing(entity('a', 1, '2026-11-27T01:00:00Z'), entity('beyond-the-limit', 1, '2026-11-27T00:00:00Z'));
    expect(compareCopies(source, copy, now)?.pending).toBe(0);
  });
});
