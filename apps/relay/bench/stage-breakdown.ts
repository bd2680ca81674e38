import { histogramQuantiles, scrapeMetrics, stageTable as tableOf, type Quantiles } from '@tenant-sync/testing';
import { BATCH_STAGES } from '../src/metrics.ts';

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

/** Reads a running relay's `/metrics` on its operations port; what it observed since the scrape `before` when given. */
export async function scrapeStages(opsPort: number, before?: string): Promise<StageBreakdown> {
  const text = await scrapeMetrics(opsPort);
  const stages = Object.fromEntries(BATCH_STAGES.map((stage) => [stage, histogramQuantiles(text, 'relay_stage_seconds', { stage }, before)]));
  return {
    claim_wait: histogramQuantiles(text, 'relay_claim_wait_seconds', {}, before),
    ...(stages as Record<(typeof BATCH_STAGES)[number], Quantiles>),
    publish_lag: histogramQuantiles(text, 'relay_publish_lag_seconds', {}, before),
  };
}

const meaning: Record<keyof StageBreakdown, string> = {
  claim_wait: 'event: written → its claim starts (commit, NOTIFY, wake-up)',
  wake: 'batch: NOTIFY or poll → claim starts',
  claim: 'batch: claim statement',
  produce: 'batch: send → last Kafka ack',
  delete: 'batch: delete statement',
  publish_lag: 'event: written → Kafka ack',
};

/** The breakdown as a markdown table under `caption`: `| stage | p50 | p99 | count |`. */
export const stageTable = (caption: string, breakdown: StageBreakdown): string[] => tableOf(caption, breakdown, meaning);
