import { BATCH_STAGES } from '../src/metrics.ts';

export interface Quantiles {
  count: number;
  p50: number;
  p99: number;
}

/** Where a relay's time went, read off its histograms (milliseconds). */
export interface StageBreakdown {
  /** Per event: written → the claim that took it starts (commit, notification, wake-up). */
  claim_wait: Quantiles;
  /** Per batch, the stages in order. */
  wake: Quantiles;
  claim: Quantiles;
  produce: Quantiles;
  delete: Quantiles;
  /** Per event: written → Kafka ack. */
  publish_lag: Quantiles;
}

type Buckets = Array<{ le: number; count: number }>;

/** The cumulative buckets of one histogram series in Prometheus text, whatever the label order. */
function bucketsOf(text: string, name: string, wanted: Record<string, string> = {}): Buckets {
  const buckets: Buckets = [];
  for (const match of text.matchAll(new RegExp(`^${name}_bucket\\{([^}]*)\\} (\\S+)$`, 'gm'))) {
    const labels = Object.fromEntries([...(match[1] ?? '').matchAll(/(\w+)="([^"]*)"/g)].map((label) => [label[1], label[2]]));
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

const quantiles = (buckets: Buckets): Quantiles => {
  const ms = (q: number) => Number((histogramQuantile(buckets, q) * 1000).toFixed(1));
  return { count: buckets.at(-1)?.count ?? 0, p50: ms(0.5), p99: ms(0.99) };
};

/** Reads a running relay's `/metrics` on its operations port. */
export async function scrapeStages(opsPort: number): Promise<StageBreakdown> {
  const text = await (await fetch(`http://127.0.0.1:${opsPort}/metrics`)).text();
  const stages = Object.fromEntries(BATCH_STAGES.map((stage) => [stage, quantiles(bucketsOf(text, 'relay_stage_seconds', { stage }))]));
  return {
    claim_wait: quantiles(bucketsOf(text, 'relay_claim_wait_seconds')),
    ...(stages as Record<(typeof BATCH_STAGES)[number], Quantiles>),
    publish_lag: quantiles(bucketsOf(text, 'relay_publish_lag_seconds')),
  };
}

/** One table row per stage: `| stage | p50 | p99 | count |`. */
export function stageRows(breakdown: StageBreakdown): string[] {
  const meaning: Record<keyof StageBreakdown, string> = {
    claim_wait: 'event: written → its claim starts (commit, NOTIFY, wake-up)',
    wake: 'batch: NOTIFY or poll → claim starts',
    claim: 'batch: claim statement',
    produce: 'batch: send → last Kafka ack',
    delete: 'batch: delete statement',
    publish_lag: 'event: written → Kafka ack',
  };
  return (Object.keys(meaning) as Array<keyof StageBreakdown>).map(
    (stage) => `| ${meaning[stage]} | ${breakdown[stage].p50} | ${breakdown[stage].p99} | ${breakdown[stage].count.toLocaleString('en-US')} |`,
  );
}
