import { describe, expect, it } from 'vitest';
import { createConsumerPace } from '../src/consumer-pace.ts';

const paceOf = () => createConsumerPace({ ceiling: 12_000, minBehind: 2_500 });

describe('consumer pace', () => {
  it('starts at the ceiling, and drops by a fifth while the consumers are behind and not catching up', () => {
    const pace = paceOf();
    expect(pace.rate()).toBe(12_000);
    pace.read({ lag: 3_000, appliedPerSecond: 1_000 });
    expect(pace.rate()).toBe(9_600);
    pace.read({ lag: 3_000, appliedPerSecond: 1_000 });
    expect(pace.rate()).toBe(7_680);
  });

  it('drops no lower than 90 % of what the consumers applied, and learns that rate when it is more', () => {
    const pace = paceOf();
    pace.read({ lag: 5_000, appliedPerSecond: 10_000 });
    expect(pace.rate()).toBe(9_600);
    // Behind with the pace under what they apply: an import alone, unpaced, taught it.
    pace.read({ lag: 5_000, appliedPerSecond: 11_000 });
    expect(pace.rate()).toBe(9_900);
  });

  it('holds while the lag falls though still behind: the last cut is working', () => {
    const pace = paceOf();
    pace.read({ lag: 6_000 });
    expect(pace.rate()).toBe(9_600);
    pace.read({ lag: 4_000 });
    expect(pace.rate()).toBe(9_600);
    pace.read({ lag: 4_500 });
    expect(pace.rate()).toBe(7_680);
  });

  it('rises by a twentieth of the ceiling a reading while the consumers keep up, never past the ceiling', () => {
    const pace = paceOf();
    pace.read({ lag: 5_000 });
    expect(pace.rate()).toBe(9_600);
    pace.read({ lag: 2_499 });
    expect(pace.rate()).toBe(10_200);
    for (let reading = 0; reading < 10; reading += 1) pace.read({ lag: 0 });
    expect(pace.rate()).toBe(12_000);
  });

  it('never falls under a twentieth of the ceiling', () => {
    const pace = paceOf();
    for (let reading = 0; reading < 30; reading += 1) pace.read({ lag: 100_000 + reading, appliedPerSecond: 0 });
    expect(pace.rate()).toBe(600);
  });

  it('counts the consumers behind by the time their lag takes them, so a faster consumer may hold more', () => {
    const pace = paceOf();
    pace.read({ lag: 5_000 });
    expect(pace.rate()).toBe(9_600);
    // 2,600 behind, applying 12,000 a second: a fifth of a second of work, keeping up.
    pace.read({ lag: 2_600, appliedPerSecond: 12_000 });
    expect(pace.rate()).toBe(10_200);
    // The same lag, applying 8,000 a second: a third of a second, behind.
    pace.read({ lag: 2_600, appliedPerSecond: 8_000 });
    expect(pace.rate()).toBe(8_160);
  });
});
