/**
 * Draws the history of the recorded benchmark runs: one SVG line chart per measure, from
 * benchmarks/runs.jsonl (one JSON object a run, appended by the benches) into
 * benchmarks/charts/, where BENCHMARKS.md shows them. No dependency: the SVG is written by hand.
 *
 *   node tools/bench-charts.ts [runs.jsonl] [output dir]
 */
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';

export type Run = Record<string, unknown> & { bench?: string; at?: string };

/** A line of a chart: the field of a run it plots. */
export interface Series {
  label: string;
  field: string;
  colour: string;
}

export interface ChartSpec {
  /** File name under the output folder. */
  file: string;
  bench: string;
  title: string;
  unit: string;
  series: Series[];
}

const relay = '#1f77b4';
const debezium = '#d62728';

/** The charts BENCHMARKS.md shows. */
export const charts: ChartSpec[] = [
  {
    file: 'relay-drain.svg',
    bench: 'relay',
    title: 'Drain of 200,000 outbox rows (higher is better)',
    unit: 'events/s',
    series: [
      { label: 'relay (1 instance)', field: 'drain_eps_1', colour: relay },
      { label: 'Debezium 3.6.1', field: 'debezium_drain_eps', colour: debezium },
    ],
  },
  {
    file: 'relay-p99.svg',
    bench: 'relay',
    title: 'Steady 2,000 events/s: p99 commit → Kafka ack (lower is better)',
    unit: 'ms',
    series: [
      { label: 'relay', field: 'p99_ms', colour: relay },
      { label: 'Debezium 3.6.1', field: 'debezium_p99_ms', colour: debezium },
    ],
  },
  {
    file: 'relay-p50.svg',
    bench: 'relay',
    title: 'Steady 2,000 events/s: p50 commit → Kafka ack (lower is better)',
    unit: 'ms',
    series: [
      { label: 'relay', field: 'p50_ms', colour: relay },
      { label: 'Debezium 3.6.1', field: 'debezium_p50_ms', colour: debezium },
    ],
  },
];

const width = 720;
const height = 320;
const margin = { top: 40, right: 20, bottom: 70, left: 70 };

const escape = (text: string) => text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');

/** A round step for about five gridlines up to `max`. */
function niceStep(max: number): number {
  const rough = max / 5;
  const power = 10 ** Math.floor(Math.log10(rough));
  return ([1, 2, 2.5, 5, 10].map((factor) => factor * power).find((step) => step >= rough) ?? rough) || 1;
}

const valueOf = (run: Run, field: string): number | undefined => {
  const value = run[field];
  return typeof value === 'number' && Number.isFinite(value) ? value : undefined;
};

/** The SVG of one chart over `runs` (already the chart's bench, oldest first). */
export function renderChart(spec: ChartSpec, runs: Run[]): string {
  const plotted = runs.filter((run) => spec.series.some((series) => valueOf(run, series.field) !== undefined));
  const values = plotted.flatMap((run) => spec.series.map((series) => valueOf(run, series.field) ?? 0));
  const step = niceStep(Math.max(1, ...values));
  const top = Math.ceil(Math.max(1, ...values) / step) * step;
  const plotWidth = width - margin.left - margin.right;
  const plotHeight = height - margin.top - margin.bottom;
  const round = (coordinate: number) => Math.round(coordinate * 10) / 10;
  const x = (n: number) => round(margin.left + (plotted.length <= 1 ? plotWidth / 2 : (n / (plotted.length - 1)) * plotWidth));
  const y = (value: number) => round(margin.top + plotHeight - (value / top) * plotHeight);
  const parts = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" font-family="sans-serif" font-size="11">`,
    `<rect width="${width}" height="${height}" fill="#fff"/>`,
    `<text x="${margin.left}" y="20" font-size="14" font-weight="bold">${escape(spec.title)}</text>`,
  ];
  for (let tick = 0; tick <= top; tick += step) {
    parts.push(
      `<line x1="${margin.left}" x2="${width - margin.right}" y1="${y(tick)}" y2="${y(tick)}" stroke="#ddd"/>`,
      `<text x="${margin.left - 6}" y="${y(tick) + 4}" text-anchor="end">${tick.toLocaleString('en-US')}</text>`,
    );
  }
  parts.push(`<text transform="translate(16 ${margin.top + plotHeight / 2}) rotate(-90)" text-anchor="middle">${escape(spec.unit)}</text>`);
  plotted.forEach((run, n) => {
    const label = (run.at ?? '').slice(0, 16).replace('T', ' ');
    parts.push(`<text transform="translate(${x(n)} ${height - margin.bottom + 14}) rotate(30)" font-size="10">${escape(label)}</text>`);
  });
  spec.series.forEach((series, index) => {
    const points = plotted.flatMap((run, n) => {
      const value = valueOf(run, series.field);
      return value === undefined ? [] : [{ x: x(n), y: y(value), value }];
    });
    if (points.length > 1) parts.push(`<polyline fill="none" stroke="${series.colour}" stroke-width="2" points="${points.map((point) => `${point.x},${point.y}`).join(' ')}"/>`);
    for (const point of points) parts.push(`<circle cx="${point.x}" cy="${point.y}" r="3.5" fill="${series.colour}"><title>${escape(`${series.label}: ${point.value.toLocaleString('en-US')} ${spec.unit}`)}</title></circle>`);
    const legendX = margin.left + 10 + index * 200;
    parts.push(
      `<rect x="${legendX}" y="${margin.top - 12}" width="12" height="4" fill="${series.colour}"/>`,
      `<text x="${legendX + 16}" y="${margin.top - 7}">${escape(series.label)}</text>`,
    );
  });
  if (plotted.length === 0) parts.push(`<text x="${width / 2}" y="${height / 2}" text-anchor="middle">no recorded run yet</text>`);
  parts.push('</svg>');
  return `${parts.join('\n')}\n`;
}

/** The runs of a JSON-lines record, skipping blank lines. */
export function parseRuns(text: string): Run[] {
  return text
    .split('\n')
    .filter((line) => line.trim() !== '')
    .map((line) => JSON.parse(line) as Run);
}

/** Writes every chart of `charts` from the runs in `runsFile` into `outputDir`; returns the files written. */
export async function writeCharts(runsFile: string, outputDir: string): Promise<string[]> {
  const runs = parseRuns(await readFile(runsFile, 'utf8'));
  await mkdir(outputDir, { recursive: true });
  const written = [];
  for (const spec of charts) {
    const file = path.join(outputDir, spec.file);
    await writeFile(file, renderChart(spec, runs.filter((run) => run.bench === spec.bench)));
    written.push(file);
  }
  return written;
}

if (import.meta.main) {
  const root = path.resolve(import.meta.dirname, '..');
  const [runsFile = path.join(root, 'benchmarks', 'runs.jsonl'), outputDir = path.join(root, 'benchmarks', 'charts')] = process.argv.slice(2);
  for (const file of await writeCharts(runsFile, outputDir)) process.stdout.write(`${path.relative(process.cwd(), file)}\n`);
}
