/**
 * Where a benchmark phase's cores went, for the benchmarks' reports: the cores each process of
 * the run used (`readCpu`) and each app's GC pauses, from prom-client's
 * `nodejs_gc_duration_seconds` on its `/metrics`.
 */
import type { AppProcess } from './app-process.ts';
import { coresBetween, readCpu, type CpuReading } from './cpu-use.ts';
import { histogramTotal, scrapeMetrics } from './histograms.ts';

/** What the run's processes were using when a phase started: their CPU time and the apps' metrics. */
export interface PhaseStart {
  cpu: CpuReading;
  metrics: Map<AppProcess, string>;
}

/** PostgreSQL's processes and the broker's JVM, by command: the rest of the run besides the apps and the bench. */
const SERVER_COMMANDS = { postgres: 'PostgreSQL (every postgres process)', java: 'Kafka broker (every java process: a Debezium anchor that is up counts too)' } as const;

const readRunCpu = (apps: readonly AppProcess[]) =>
  readCpu({ ...Object.fromEntries(apps.map((app) => [app.name, app.child.pid])), bench: process.pid }, Object.keys(SERVER_COMMANDS));

export async function phaseStart(apps: readonly AppProcess[]): Promise<PhaseStart> {
  const metrics = new Map(await Promise.all(apps.map(async (app) => [app, await scrapeMetrics(app.opsPort)] as const)));
  return { cpu: readRunCpu(apps), metrics };
}

type GcPauses = Record<'minor' | 'major', { count: number; totalMs: number }>;

/** Where a phase's cores went: cores used by each process and the machine, and each app's GC pauses (prom-client's `nodejs_gc_duration_seconds`). */
export interface PhaseUse {
  cores: Record<string, number>;
  gc: Record<string, GcPauses>;
}

export async function phaseUse(start: PhaseStart): Promise<PhaseUse> {
  const apps = [...start.metrics.keys()];
  const cores = coresBetween(start.cpu, readRunCpu(apps));
  const scrapes = await Promise.all(apps.map((app) => scrapeMetrics(app.opsPort)));
  const gc: Record<string, GcPauses> = {};
  apps.forEach((app, n) => {
    const pauses = (kind: string) => histogramTotal(scrapes[n]!, 'nodejs_gc_duration_seconds', { kind }, start.metrics.get(app));
    gc[app.name] = { minor: pauses('minor'), major: pauses('major') };
  });
  return { cores, gc };
}

/** `phaseUse` as a markdown table under `caption`: `| process | cores | minor GC pauses | major GC pauses |`. */
export function phaseUseTable(caption: string, use: PhaseUse, machineCores: number): string[] {
  const pauses = ({ count, totalMs }: { count: number; totalMs: number }) => `${count} · ${totalMs} ms`;
  const meaning: Record<string, string> = { bench: 'this benchmark (load and counting)', ...SERVER_COMMANDS, machine: `the machine, every process (of ${machineCores} cores)` };
  const rows = Object.entries(use.cores).map(([name, cores]) => {
    const gc = use.gc[name];
    return `| ${meaning[name] ?? name} | ${cores} | ${gc ? pauses(gc.minor) : '—'} | ${gc ? pauses(gc.major) : '—'} |`;
  });
  return [`${caption} (CPU time from /proc; GC pauses from prom-client's \`nodejs_gc_duration_seconds\`):`, '', '| process | cores | minor GC pauses | major GC pauses |', '|---|---|---|---|', ...rows, ''];
}
