import { describe, expect, it } from 'vitest';
import { continueTrace, parseTraceparent } from '../src/index.ts';

const parent = '00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01';

describe('traceparent', () => {
  it('continues the caller trace with a new span', () => {
    const hop = continueTrace(parent);
    expect(hop.traceId).toBe('4bf92f3577b34da6a3ce929d0e0e4736');
    expect(hop.spanId).toMatch(/^[0-9a-f]{16}$/);
    expect(hop.spanId).not.toBe('00f067aa0ba902b7');
    expect(hop.traceparent).toBe(`00-${hop.traceId}-${hop.spanId}-01`);
  });

  it('starts a new trace when the header is missing or malformed', () => {
    for (const given of [undefined, '', 'garbage', `${parent}-extra`, '00-00000000000000000000000000000000-00f067aa0ba902b7-01', ["' or 1=1 --"]]) {
      expect(parseTraceparent(given)).toBeNull();
      const hop = continueTrace(given);
      expect(hop.traceparent).toMatch(/^00-[0-9a-f]{32}-[0-9a-f]{16}-01$/);
    }
  });
});
