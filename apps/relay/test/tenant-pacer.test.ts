import { randomUUID } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import type { OutboxRow } from '@tenant-sync/db';
import { createTenantPacer } from '../src/tenant-pacer.ts';

const importer = '00000000-0000-4000-8000-00000000000b';
const quiet = '00000000-0000-4000-8000-00000000000a';

const rowsOf = (orgId: string, count: number) =>
  Array.from({ length: count }, () => ({ org_id: orgId, aggregate_id: randomUUID() }) as OutboxRow);

/** 8,000 rows a second, batches of 2,000: a burst of 400 (a twentieth of a second), on a clock the test moves. */
function pacer() {
  let now = 0;
  let rate = 8_000;
  const paced = createTenantPacer(() => rate, 2_000, () => now);
  return { paced, advance: (ms: number) => (now += ms), setRate: (perSecond: number) => (rate = perSecond) };
}

describe('tenant pacer', () => {
  it('never paces a tenant alone', () => {
    const { paced, advance } = pacer();
    for (let claim = 0; claim < 10; claim += 1) {
      paced.claimed(rowsOf(importer, 2_000));
      advance(10);
      expect(paced.quota()).toEqual(new Map());
    }
  });

  it('holds a tenant to its rate while another has changes, refilling at the rate', () => {
    const { paced, advance } = pacer();
    paced.claimed(rowsOf(quiet, 1));
    paced.claimed(rowsOf(importer, 2_000));
    // It owes at most a burst: 400 rows, 50 ms, then a burst of 400 is another 50 ms.
    expect(paced.quota().get(importer)).toBe(0);
    expect(paced.refillMs([importer])).toBe(100);
    advance(75);
    // 75 ms at 8,000 rows a second, less the 400 owed.
    expect(paced.quota().get(importer)).toBe(200);
    paced.claimed(rowsOf(importer, 200));
    advance(50);
    expect(paced.quota().get(importer)).toBe(400);
    // The quiet tenant's row was claimed before the import's, when it was alone: nothing counted.
    expect(paced.quota().get(quiet)).toBe(400);
  });

  it('stops pacing a second after the other tenants had their last change', () => {
    const { paced, advance } = pacer();
    paced.claimed(rowsOf(quiet, 1));
    paced.claimed(rowsOf(importer, 2_000));
    advance(1_001);
    paced.claimed(rowsOf(importer, 2_000));
    expect(paced.quota()).toEqual(new Map());
    expect(paced.refillMs([importer])).toBe(0);
  });

  it('follows a pace that changes: refills at the new rate, to a burst of a twentieth of a second of it', () => {
    const { paced, advance, setRate } = pacer();
    paced.claimed(rowsOf(quiet, 1));
    paced.claimed(rowsOf(importer, 2_000));
    setRate(4_000);
    // 400 rows owed, then a burst of 200 at 4,000 rows a second.
    expect(paced.refillMs([importer])).toBe(150);
    advance(125);
    expect(paced.quota().get(importer)).toBe(100);
    advance(100);
    expect(paced.quota().get(importer)).toBe(200);
  });
});
