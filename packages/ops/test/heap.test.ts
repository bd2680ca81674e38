import { spawnSync } from 'node:child_process';
import path from 'node:path';
import { describe, expect, it } from 'vitest';

const heap = path.join(import.meta.dirname, '..', 'src', 'heap.ts');

/**
 * A process that keeps most of what one allocation site makes, as a backlog does, with V8
 * tracing its pretenuring decisions; returns how many sites it moved to the old generation.
 */
function sitesTenured(keepYoung: boolean): number {
  const script = `
    ${keepYoung ? `(await import(${JSON.stringify(heap)})).keepShortLivedObjectsYoung();` : ''}
    const kept = [];
    const make = (i) => ({ i, pair: [i, i + 1] });
    for (let round = 0; round < 20; round++) {
      for (let i = 0; i < 200_000; i++) kept.push(make(i));
      if (kept.length > 1_000_000) kept.length = 0;
    }`;
  // Without the optimizing compilers (`--max-opt=0`) the count is the same on every run: whether
  // optimized code still leaves the mementos pretenuring counts depended on when the background
  // compiler finished, and on a loaded machine V8's default then tenured nothing once in four.
  const flags = ['--max-opt=0', '--trace-pretenuring', '--trace-pretenuring-statistics'];
  const run = spawnSync(process.execPath, [...flags, '--input-type=module', '-e', script], { encoding: 'utf8', timeout: 30_000 });
  expect(run.status, run.stderr).toBe(0);
  return (run.stdout.match(/=> tenure/g) ?? []).length;
}

describe('keepShortLivedObjectsYoung', () => {
  it('stops V8 from allocating straight into the old generation, which it does by default', () => {
    expect(sitesTenured(false)).toBeGreaterThan(0);
    expect(sitesTenured(true)).toBe(0);
  });
});
