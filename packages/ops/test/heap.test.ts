import { spawnSync } from 'node:child_process';
import path from 'node:path';
import { describe, expect, it } from 'vitest';

const heap = path.join(import.meta.dirname, '..', 'src', 'heap.ts');

/**
 * A process that keeps most of what one allocation site makes, as a backlog does, with V8
 * tracing its pretenuring decisions; returns how many sites it moved to the old generation.
 */
function sitesTenured(keepYoung: boolean): number {
  // Scavenges forced after each batch, and no optimizing compilers (`--max-opt=0`), make the
  // count the same on every run: left to V8, whether optimized code still leaves the mementos
  // pretenuring counts depended on when the background compiler finished, and on a loaded
  // machine V8's default then tenured nothing once in four.
  const script = `
    ${keepYoung ? `(await import(${JSON.stringify(heap)})).keepShortLivedObjectsYoung();` : ''}
    const kept = [];
    const make = (i) => ({ i, pair: [i, i + 1] });
    for (let round = 0; round < 10; round++) {
      for (let i = 0; i < 50_000; i++) kept.push(make(i));
      globalThis.gc({ type: 'minor' });
    }`;
  const flags = ['--max-opt=0', '--expose-gc', '--trace-pretenuring', '--trace-pretenuring-statistics'];
  const run = spawnSync(process.execPath, [...flags, '--input-type=module', '-e', script], { encoding: 'utf8', timeout: 30_000 });
  expect(run.status, run.stderr).toBe(0);
  return (run.stdout.match(/=> tenure/g) ?? []).length;
}

describe('keepShortLivedObjectsYoung', () => {
  it('stops V8 from allocating straight into the old generation, which it does by default', () => {
    expect(sitesTenured(false)).toBeGreaterThan(0);
    expect(sitesTenured(true)).toBe(0);
  }, 60_000);
});
