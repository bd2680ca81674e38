/**
 * Where a benchmark phase's cores went: the CPU time (user + system) of each process of the
 * run, read from /proc before and after the phase (Linux only). On a machine where every stage
 * waits for a core, what a change costs anywhere is what the latency pays, so the benchmarks
 * print this beside their latencies.
 */
import { readdirSync, readFileSync } from 'node:fs';

/** /proc counts CPU time in ticks of USER_HZ, which Linux fixes at 100 a second for user space. */
const TICKS_PER_SECOND = 100;

/** What the run's processes and the machine had used at one moment (CPU seconds). */
export interface CpuReading {
  at: number;
  seconds: Record<string, number>;
  /** All cores together, busy (everything but idle and waiting for I/O). */
  machine: number;
}

/** The fields of `/proc/<pid>/stat`: the command between parentheses, then the rest. */
function stat(pid: string): { command: string; ticks: number } | undefined {
  let text: string;
  try {
    text = readFileSync(`/proc/${pid}/stat`, 'utf8');
  } catch {
    // Exited since the directory was listed.
    return undefined;
  }
  const close = text.lastIndexOf(')');
  // utime and stime are the 12th and 13th fields after the command.
  const fields = text.slice(close + 2).split(' ');
  return { command: text.slice(text.indexOf('(') + 1, close), ticks: Number(fields[11]) + Number(fields[12]) };
}

function machineBusySeconds(): number {
  // cpu user nice system idle iowait irq softirq steal …
  const [, ...ticks] = readFileSync('/proc/stat', 'utf8').split('\n')[0]!.trim().split(/\s+/).map(Number);
  const [user = 0, nice = 0, system = 0, , , irq = 0, softirq = 0, steal = 0] = ticks;
  return (user + nice + system + irq + softirq + steal) / TICKS_PER_SECOND;
}

/**
 * The CPU seconds used so far by each process named in `pids`, by every process whose command
 * is one of `commands` (summed per command: PostgreSQL's backends, a JVM), and by the machine.
 * A process of a command that exits between two readings takes its time with it, so the
 * programs' figures are for long-lived connections, as the apps' pools keep them.
 */
export function readCpu(pids: Record<string, number | undefined>, commands: readonly string[]): CpuReading {
  const seconds: Record<string, number> = {};
  for (const [name, pid] of Object.entries(pids)) {
    const entry = pid === undefined ? undefined : stat(String(pid));
    if (entry) seconds[name] = entry.ticks / TICKS_PER_SECOND;
  }
  for (const command of commands) seconds[command] = 0;
  for (const pid of commands.length > 0 ? readdirSync('/proc') : []) {
    if (!/^\d+$/.test(pid)) continue;
    const entry = stat(pid);
    if (entry && commands.includes(entry.command)) seconds[entry.command]! += entry.ticks / TICKS_PER_SECOND;
  }
  return { at: performance.now(), seconds, machine: machineBusySeconds() };
}

/** Cores each process used between two readings (1 = one core all the time), and the machine's. */
export function coresBetween(before: CpuReading, after: CpuReading): Record<string, number> {
  const elapsed = (after.at - before.at) / 1000;
  const cores = (from: number, to: number) => Number(((to - from) / elapsed).toFixed(2));
  const used: Record<string, number> = {};
  for (const [name, seconds] of Object.entries(after.seconds)) {
    if (before.seconds[name] !== undefined) used[name] = cores(before.seconds[name], seconds);
  }
  used.machine = cores(before.machine, after.machine);
  return used;
}
