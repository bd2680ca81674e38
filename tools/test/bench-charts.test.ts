import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { charts, parseRuns, renderChart, writeCharts, type ChartSpec } from '../bench-charts.ts';

const spec: ChartSpec = {
  file: 'p99.svg',
  bench: 'relay',
  title: 'p99 <commit → ack>',
  unit: 'ms',
  series: [
    { label: 'relay', field: 'p99_ms', colour: '#00f' },
    { label: 'Debezium', field: 'debezium_p99_ms', colour: '#f00' },
  ],
};

describe('bench charts', () => {
  const dirs: string[] = [];
  afterAll(async () => {
    for (const dir of dirs) await rm(dir, { recursive: true, force: true });
  });

  it('draws one line per series, a point per run that has the field, and escapes the text', () => {
    const svg = renderChart(spec, [
      { bench: 'relay', at: '2026-11-27T01:00:00Z', p99_ms: 40, debezium_p99_ms: 20 },
      { bench: 'relay', at: '2026-11-27T02:00:00Z', p99_ms: 30 },
      { bench: 'relay', at: '2026-11-27T03:00:00Z', p99_ms: 15, debezium_p99_ms: 18 },
    ]);
    expect(svg.startsWith('<svg xmlns="http://www.w3.org/2000/svg"')).toBe(true);
    expect(svg).toContain('p99 &lt;commit → ack&gt;');
    expect(svg.match(/<polyline/g)).toHaveLength(2);
    expect(svg.match(/<circle[^>]*fill="#00f"/g)).toHaveLength(3);
    expect(svg.match(/<circle[^>]*fill="#f00"/g)).toHaveLength(2);
    expect(svg).toContain('<title>relay: 15 ms</title>');
    expect(svg).toContain('2026-11-27 03:00');
  });

  it('puts a higher value higher up the chart', () => {
    const svg = renderChart(spec, [
      { bench: 'relay', at: 'a', p99_ms: 10 },
      { bench: 'relay', at: 'b', p99_ms: 90 },
    ]);
    const [low, high] = [...svg.matchAll(/<circle cx="[^"]+" cy="([^"]+)"/g)].map((match) => Number(match[1]));
    expect(high).toBeLessThan(low!);
  });

  it('says so when there is no run to draw', () => {
    expect(renderChart(spec, [])).toContain('no recorded run yet');
  });

  it('writes every chart from a JSON-lines record, one bench at a time', async () => {
    const dir = await mkdtemp(path.join(tmpdir(), 'bench-charts-'));
    dirs.push(dir);
    const runsFile = path.join(dir, 'runs.jsonl');
    await writeFile(
      runsFile,
      [
        JSON.stringify({ bench: 'relay', at: '2026-11-27T01:00:00Z', drain_eps_1: 20000, p50_ms: 9, p99_ms: 18, debezium_drain_eps: 9000, debezium_p50_ms: 10, debezium_p99_ms: 19 }),
        '',
        JSON.stringify({ bench: 'consumer', at: '2026-11-27T01:30:00Z', p99_ms: 900 }),
      ].join('\n'),
    );
    expect(parseRuns(await readFile(runsFile, 'utf8'))).toHaveLength(2);
    const written = await writeCharts(runsFile, path.join(dir, 'charts'));
    expect(written.map((file) => path.basename(file))).toEqual(charts.map((chart) => chart.file));
    const p99 = await readFile(path.join(dir, 'charts', 'relay-p99.svg'), 'utf8');
    expect(p99).toContain('<title>relay: 18 ms</title>');
    expect(p99).not.toContain('900');
  });
});
