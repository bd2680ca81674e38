import { readFileSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { describe, expect, it } from 'vitest';
import { coresBetween, readCpu } from '../src/cpu-use.ts';

/** Keeps this process busy until it has used `ms` of CPU (not of wall time: a loaded machine stretches that). */
function spin(ms: number): void {
  const start = process.cpuUsage();
  for (;;) {
    const used = process.cpuUsage(start);
    if ((used.user + used.system) / 1000 >= ms) return;
  }
}

describe('readCpu', () => {
  it("reads a process's CPU time and the machine's, and tells the cores a phase used", () => {
    const before = readCpu({ self: process.pid, gone: undefined }, ['no-such-command']);
    spin(300);
    const after = readCpu({ self: process.pid, gone: undefined }, ['no-such-command']);

    // 300 ms of CPU, counted in ticks of 10 ms.
    expect(after.seconds.self! - before.seconds.self!).toBeGreaterThanOrEqual(0.2);
    expect(after.machine - before.machine).toBeGreaterThanOrEqual(0.2);
    expect(after.seconds['no-such-command']).toBe(0);
    expect(after.seconds).not.toHaveProperty('gone');
    const cores = coresBetween(before, after);
    // Cores: CPU seconds over the seconds between the readings, whatever else the machine runs.
    expect(cores.self).toBeCloseTo((after.seconds.self! - before.seconds.self!) / ((after.at - before.at) / 1000), 1);
    // Cores, not ticks or seconds: no more than the machine has.
    expect(cores.self).toBeLessThanOrEqual(availableParallelism() + 0.1);
    expect(cores.machine).toBeGreaterThanOrEqual(cores.self! - 0.1);
  });

  it('sums the processes of a command, this one among them', () => {
    spin(50);
    const command = readFileSync('/proc/self/comm', 'utf8').trim();
    const reading = readCpu({ self: process.pid }, [command]);
    expect(reading.seconds.self).toBeGreaterThan(0);
    expect(reading.seconds[command]).toBeGreaterThanOrEqual(reading.seconds.self!);
  });
});
