import { randomUUID } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import type { OutboxRow } from '@tenant-sync/db';
import { createTenantPacer } from '../src/tenant-pacer.ts';

const importer = '00000000-0000-4000-8000-00000000000b';
const quiet = '00000000-0000-4000-8000-00000000000a';

const rowsOf = (orgId: string, count: number) =>
  Array.from({ length: count }, () => ({ org_id: orgId, aggregate_id: randomUUID() }) as OutboxRow);

/** 8,000 rows a second, batches of 2,000: a burst of 2,000 (a quarter second), on a clock the test moves. */
function pacer() {
  let now = 0;
  const paced = createTenantPacer(8_000, 2_000, () => now);
  return { paced, advance: (ms: number) => (now += ms) };
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
    expect(paced.quota().get(importer)).toBe(0);
    expect(paced.refillMs([importer])).toBe(250);
    advance(100);
    // 100 ms at 8,000 rows a second.
    expect(paced.quota().get(importer)).toBe(800);
    paced.claimed(rowsOf(importer, 800));
    advance(250);
    expect(paced.quota().get(importer)).toBe(2_000);
    // The quiet tenant's row was claimed before the import's, when it was alone: nothing counted.
    expect(paced.quota().get(quiet)).toBe(2_000);
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
});
