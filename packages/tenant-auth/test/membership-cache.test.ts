import { afterEach, describe, expect, it, vi } from 'vitest';
import { parseOrgId } from '@tenant-sync/contracts';
import { cacheLookups, cacheMemberships, type Membership } from '../src/membership-cache.ts';

const orgId = parseOrgId('00000000-0000-0000-0000-000000000000')!;

describe('cacheMemberships', () => {
  afterEach(() => {
    vi.useRealTimers();
  });

  it('answers from the cache within the TTL, and sees a suspension once it has passed', async () => {
    vi.useFakeTimers();
    let answer: Membership = { orgStatus: 'ACTIVE', role: 'tenant_admin', memberStatus: 'ACTIVE' };
    const lookup = vi.fn(async () => answer);
    const cached = cacheMemberships(lookup, 5_000);

    await expect(cached(orgId, 'default-admin')).resolves.toMatchObject({ orgStatus: 'ACTIVE' });
    answer = { ...answer, orgStatus: 'SUSPENDED' };
    vi.advanceTimersByTime(4_000);
    await expect(cached(orgId, 'default-admin')).resolves.toMatchObject({ orgStatus: 'ACTIVE' });
    expect(lookup).toHaveBeenCalledTimes(1);
    vi.advanceTimersByTime(1_001);
    await expect(cached(orgId, 'default-admin')).resolves.toMatchObject({ orgStatus: 'SUSPENDED' });
    expect(lookup).toHaveBeenCalledTimes(2);
  });

  it('keys answers by org and subject, so one never answers for another', async () => {
    const lookup = vi.fn(async (org: string, subject: string) => ({ orgStatus: 'ACTIVE', role: subject === 'admin' ? 'tenant_admin' : null, memberStatus: org === orgId ? 'ACTIVE' : null }));
    const cached = cacheMemberships(lookup, 60_000);
    await cached(orgId, 'admin');
    await expect(cached(parseOrgId('11111111-1111-1111-1111-111111111111')!, 'admin')).resolves.toMatchObject({ memberStatus: null });
    await expect(cached(orgId, 'someone')).resolves.toMatchObject({ role: null });
    expect(lookup).toHaveBeenCalledTimes(3);
  });

  it('keeps at most maxEntries answers', async () => {
    const lookup = vi.fn(async () => null);
    const cached = cacheMemberships(lookup, 60_000, 2);
    for (const subject of ['a', 'b', 'c', 'a']) await cached(orgId, subject);
    expect(lookup).toHaveBeenCalledTimes(4);
  });
});

describe('cacheLookups', () => {
  it('shares one look-up between concurrent calls with one key', async () => {
    let calls = 0;
    const cached = cacheLookups(async (orgId: string) => (calls++, orgId.startsWith('a')), { ttlMs: 1_000, keyOf: (orgId) => orgId });
    expect(await Promise.all([cached('a-1'), cached('a-1')])).toEqual([true, true]);
    expect(await cached('b-1')).toBe(false);
    expect(calls).toBe(2);
  });

  it('does not cache a failure', async () => {
    let calls = 0;
    const cached = cacheLookups(
      async () => {
        calls += 1;
        if (calls === 1) throw new Error('down');
        return true;
      },
      { ttlMs: 60_000, keyOf: () => 'org' },
    );
    await expect(cached()).rejects.toThrow('down');
    expect(await cached()).toBe(true);
    expect(calls).toBe(2);
  });
});
