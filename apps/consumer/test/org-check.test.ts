import { describe, expect, it } from 'vitest';
import { createOrgCheck } from '../src/org-check.ts';

describe('organisation check', () => {
  it('caches answers for the TTL and shares concurrent asks', async () => {
    let now = 0;
    let calls = 0;
    const check = createOrgCheck(async (orgId) => (calls++, orgId.startsWith('a')), 1_000, () => now);
    expect(await Promise.all([check('A-1'), check('a-1')])).toEqual([true, true]);
    expect(await check('b-1')).toBe(false);
    expect(calls).toBe(2);
    now = 1_001;
    await check('a-1');
    expect(calls).toBe(3);
  });

  it('does not cache errors', async () => {
    let calls = 0;
    const check = createOrgCheck(async () => {
      calls += 1;
      if (calls === 1) throw new Error('down');
      return true;
    }, 60_000);
    await expect(check('a')).rejects.toThrow('down');
    expect(await check('a')).toBe(true);
  });
});
