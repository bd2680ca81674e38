import { describe, expect, it } from 'vitest';
import { coalesce } from '../src/coalesce.ts';

describe('coalesce', () => {
  it('serves the calls of one key made together in one run, answering each in order; other keys apart', async () => {
    const runs: Array<[string, number[]]> = [];
    const double = coalesce(async (key, inputs: number[]) => {
      runs.push([key, inputs]);
      return inputs.map((input) => input * 2);
    });
    expect(await Promise.all([double('a', 1), double('b', 2), double('a', 3)])).toEqual([2, 4, 6]);
    expect(runs).toEqual([['a', [1, 3]], ['b', [2]]]);
    expect(await double('a', 5)).toBe(10);
    expect(runs).toHaveLength(3);
  });

  it('fails every call of a failed run, and serves the next calls afresh', async () => {
    let fail = true;
    const serve = coalesce(async (_key, inputs: string[]) => {
      if (fail) throw new Error('down');
      return inputs;
    });
    expect((await Promise.allSettled([serve('k', 'x'), serve('k', 'y')])).map((result) => result.status)).toEqual(['rejected', 'rejected']);
    fail = false;
    expect(await serve('k', 'z')).toBe('z');
  });
});
