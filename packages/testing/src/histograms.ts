/** Reading an app's Prometheus histograms off its `/metrics`, as the benchmarks report them. */

export interface Quantiles {
  count: number;
  /** Milliseconds. */
  p50: number;
  /** Milliseconds. */
  p99: number;
}

type Buckets = Array<{ le: number; count: number }>;

/** The text of an app's `/metrics` on its operations port. */
export async function scrapeMetrics(opsPort: number): Promise<string> {
  return (await fetch(`http://127.0.0.1:${opsPort}/metrics`)).text();
}

/** The labels of a series, from the text between its braces. */
const labelsOf = (text = ''): Record<string, string | undefined> => Object.fromEntries([...text.matchAll(/(\w+)="([^"]*)"/g)].map((label) => [label[1], label[2]]));

/** The cumulative buckets of one histogram series in Prometheus text, whatever the label order. */
function bucketsOf(text: string, name: string, wanted: Record<string, string>): Buckets {
  const buckets: Buckets = [];
  for (const match of text.matchAll(new RegExp(`^${name}_bucket\\{([^}]*)\\} (\\S+)$`, 'gm'))) {
    const labels = labelsOf(match[1]);
    if (Object.entries(wanted).some(([label, value]) => labels[label] !== value)) continue;
    buckets.push({ le: labels.le === '+Inf' ? Infinity : Number(labels.le), count: Number(match[2]) });
  }
  return buckets.sort((x, y) => x.le - y.le);
}

/** The q-quantile as Prometheus' histogram_quantile computes it: linear within the bucket. */
export function histogramQuantile(buckets: Buckets, q: number): number {
  const total = buckets.at(-1)?.count ?? 0;
  if (total === 0) return Number.NaN;
  const rank = q * total;
  let lower = 0;
  let below = 0;
  for (const { le, count } of buckets) {
    if (count >= rank) {
      if (le === Infinity) return lower;
      return lower + (le - lower) * ((rank - below) / Math.max(1, count - below));
    }
    lower = le;
    below = count;
  }
  return lower;
}

/**
 * Count, p50 and p99 (in ms) of the histogram `name` (in seconds) for the series with `labels`;
 * of what was observed since the scrape `before` when it is given.
 */
export function histogramQuantiles(text: string, name: string, labels: Record<string, string> = {}, before?: string): Quantiles {
  const earlier = new Map(before === undefined ? [] : bucketsOf(before, name, labels).map(({ le, count }) => [le, count]));
  const buckets = bucketsOf(text, name, labels).map(({ le, count }) => ({ le, count: count - (earlier.get(le) ?? 0) }));
  const ms = (q: number) => Number((histogramQuantile(buckets, q) * 1000).toFixed(1));
  return { count: buckets.at(-1)?.count ?? 0, p50: ms(0.5), p99: ms(0.99) };
}

/** The sum of the metric `name`'s series whose labels include `labels`; 0 for no scrape. */
function seriesTotal(text: string | undefined, name: string, labels: Record<string, string>): number {
  if (text === undefined) return 0;
  let total = 0;
  for (const match of text.matchAll(new RegExp(`^${name}(?:\\{([^}]*)\\})? (\\S+)$`, 'gm'))) {
    const series = labelsOf(match[1]);
    if (Object.entries(labels).every(([label, wanted]) => series[label] === wanted)) total += Number(match[2]);
  }
  return total;
}

/**
 * How many observations the histogram `name` (in seconds) has for the series with `labels`, and
 * their total in ms; of what was observed since the scrape `before` when it is given.
 */
export function histogramTotal(text: string, name: string, labels: Record<string, string> = {}, before?: string): { count: number; totalMs: number } {
  const since = (suffix: 'count' | 'sum') => seriesTotal(text, `${name}_${suffix}`, labels) - seriesTotal(before, `${name}_${suffix}`, labels);
  return { count: since('count'), totalMs: Number((since('sum') * 1000).toFixed(1)) };
}

/** The value of the counter `name` summed over its series; of what was counted since the scrape `before` when it is given. */
export function counterTotal(text: string, name: string, before?: string): number {
  return seriesTotal(text, name, {}) - seriesTotal(before, name, {});
}

/** The stages as a markdown table under `caption`: `| stage | p50 ms | p99 ms | count |`, one row per stage of `meaning`. */
export function stageTable<Stage extends string>(caption: string, stages: Record<Stage, Quantiles>, meaning: Record<Stage, string>): string[] {
  const rows = (Object.keys(meaning) as Stage[]).map(
    (stage) => `| ${meaning[stage]} | ${stages[stage].p50} | ${stages[stage].p99} | ${stages[stage].count.toLocaleString('en-US')} |`,
  );
  return [caption, '', '| stage | p50 ms | p99 ms | count |', '|---|---|---|---|', ...rows, ''];
}
