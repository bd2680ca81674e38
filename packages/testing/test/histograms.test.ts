import { describe, expect, it } from 'vitest';
import { counterTotal, histogramTotal } from '../src/histograms.ts';

describe('histogramTotal', () => {
  const scrape = (minor: [number, number], major: [number, number]) =>
    [
      '# TYPE nodejs_gc_duration_seconds histogram',
      `nodejs_gc_duration_seconds_bucket{le="0.01",kind="minor"} ${minor[0]}`,
      `nodejs_gc_duration_seconds_sum{kind="minor"} ${minor[1]}`,
      `nodejs_gc_duration_seconds_count{kind="minor"} ${minor[0]}`,
      `nodejs_gc_duration_seconds_sum{kind="major"} ${major[1]}`,
      `nodejs_gc_duration_seconds_count{kind="major"} ${major[0]}`,
      'relay_batch_duration_seconds_sum 4.5',
      'relay_batch_duration_seconds_count 9',
    ].join('\n');

  it('gives the count and total of one series since an earlier scrape', () => {
    const before = scrape([10, 0.1], [1, 0.05]);
    const after = scrape([14, 0.18], [1, 0.05]);
    expect(histogramTotal(after, 'nodejs_gc_duration_seconds', { kind: 'minor' }, before)).toEqual({ count: 4, totalMs: 80 });
    expect(histogramTotal(after, 'nodejs_gc_duration_seconds', { kind: 'major' }, before)).toEqual({ count: 0, totalMs: 0 });
  });

  it('reads series without labels, and sums every series the labels match', () => {
    const text = scrape([2, 0.02], [1, 0.1]);
    expect(histogramTotal(text, 'relay_batch_duration_seconds')).toEqual({ count: 9, totalMs: 4500 });
    expect(histogramTotal(text, 'nodejs_gc_duration_seconds')).toEqual({ count: 3, totalMs: 120 });
  });
});

describe('counterTotal', () => {
  const scrape = (holds: number, parked: [number, number]) =>
    [
      '# TYPE relay_lag_holds_total counter',
      `relay_lag_holds_total ${holds}`,
      `relay_parked_total{reason="org_id is missing"} ${parked[0]}`,
      `relay_parked_total{reason="row does not make a valid event"} ${parked[1]}`,
      'relay_lag_holds_total_other 99',
    ].join('\n');

  it('counts since an earlier scrape, summing every series of the counter and nothing of another name', () => {
    expect(counterTotal(scrape(12, [1, 2]), 'relay_lag_holds_total', scrape(5, [0, 0]))).toBe(7);
    expect(counterTotal(scrape(0, [1, 2]), 'relay_parked_total')).toBe(3);
    expect(counterTotal(scrape(0, [0, 0]), 'relay_no_such_total')).toBe(0);
  });
});
