/** What both consumer benchmarks share: the apps as child processes, counting and percentiles. */
import { setTimeout as sleep } from 'node:timers/promises';
import type postgres from 'postgres';
import { freePort } from '@tenant-sync/local-infra';
import { histogramQuantiles, scrapeMetrics, startApp, stageTable as tableOf, type Quantiles, type TestInfrastructure } from '@tenant-sync/testing';
import { CONSUMER_STAGES, type ConsumerStage } from '../src/metrics.ts';

export function percentile(values: number[], p: number): number {
  const sorted = [...values].sort((x, y) => x - y);
  const index = Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1);
  return Math.round((sorted[Math.max(0, index)] ?? 0) * 10) / 10;
}

/**
 * How often `waitForCount` counts. A count scans the copy's index: 200,000 entries took 14–17
 * ms on an idle machine with the table vacuumed, and 42 ms on average for an import's 100,000
 * fresh rows during `bench-fairness` (`pg_stat_statements`): without a vacuum since they were
 * written, every entry is checked in the table as well. Asked every 50 ms, as it was, that took
 * a fifth of a core or more from the system under measurement, just when a drain or an import
 * needed it most; every 500 ms it still took a core for 42 ms twice a second. The end is read
 * from the rows themselves (`synced_at`), so counting less often loses no precision: a phase
 * only lasts up to one interval longer.
 */
const COUNT_EVERY_MS = 3_000;

/**
 * Waits until the copy holds `count` users (of `orgId` only, when given); resolves with when
 * the last of them was written to it, by the database's clock (ms since the epoch).
 */
export async function waitForCount(consumer: postgres.Sql, count: number, timeoutMs: number, report?: (n: number) => void, orgId?: string): Promise<number> {
  const deadline = Date.now() + timeoutMs;
  const tenant = orgId ? consumer`WHERE org_id = ${orgId}` : consumer``;
  let last = Date.now();
  for (;;) {
    const [{ n, lastMs }] = await consumer<[{ n: number; lastMs: string | null }]>`SELECT count(*)::int AS n, extract(epoch FROM max(synced_at)) * 1000 AS "lastMs" FROM synced_users ${tenant}`;
    if (n >= count) return Number(lastMs);
    if (Date.now() > deadline) throw new Error(`only ${n} of ${count} users synced after ${timeoutMs} ms`);
    if (report && Date.now() - last > 5_000) {
      report(n);
      last = Date.now();
    }
    await sleep(COUNT_EVERY_MS);
  }
}

/** The consumer's group, whose lag the relay keeps under RELAY_MAX_LAG. */
const consumerGroup = `bench-${Date.now()}`;

export async function startApps(infra: TestInfrastructure, topicTemplate: string) {
  const internalPort = await freePort();
  const source = await startApp(
    'source',
    { SOURCE_DATABASE_URL: infra.sourceAppUrl, PUBLIC_PORT: String(await freePort()), INTERNAL_PORT: String(internalPort), LOG_LEVEL: 'warn' },
    await freePort(),
  );
  const consumerOpsPort = await freePort();
  const consumer = await startApp(
    'consumer',
    {
      CONSUMER_DATABASE_URL: infra.consumerAppUrl,
      KAFKA_BROKERS: infra.brokers,
      KAFKA_TOPIC_TEMPLATE: topicTemplate,
      KAFKA_GROUP_ID: consumerGroup,
      SOURCE_INTERNAL_URL: `https://localhost:${internalPort}`,
      PUBLIC_PORT: String(await freePort()),
      RECONCILE_INTERVAL_MS: '0',
      LOG_LEVEL: process.env.BENCH_CONSUMER_LOG_LEVEL ?? 'warn',
    },
    consumerOpsPort,
  );
  return { source, consumer, consumerOpsPort };
}

export const startRelay = async (infra: TestInfrastructure, topicTemplate: string) =>
  startApp(
    'relay',
    {
      RELAY_DATABASE_URL: infra.relayAppUrl,
      KAFKA_BROKERS: infra.brokers,
      KAFKA_TOPIC_TEMPLATE: topicTemplate,
      RELAY_ID: 'bench-relay',
      RELAY_LAG_GROUPS: consumerGroup,
      LOG_LEVEL: 'warn',
      // To compare with another bound, or none (0): docs/relay.md, "A backlog waits in the outbox".
      ...(process.env.BENCH_RELAY_MAX_LAG ? { RELAY_MAX_LAG: process.env.BENCH_RELAY_MAX_LAG } : {}),
    },
    await freePort(),
  );


/** Where a reference's time went, from the relay's and the consumer's histograms (ms). */
export type StageBreakdown = Record<'publish_lag' | ConsumerStage, Quantiles>;

/** Both apps' metrics at one moment, to read what was observed between two of them. */
export async function scrapeStages(relayOpsPort: number, consumerOpsPort: number): Promise<{ relay: string; consumer: string }> {
  return { relay: await scrapeMetrics(relayOpsPort), consumer: await scrapeMetrics(consumerOpsPort) };
}

/** The stages observed between the scrapes `before` and `after`. */
export function stagesBetween(before: { relay: string; consumer: string }, after: { relay: string; consumer: string }): StageBreakdown {
  const consumer = Object.fromEntries(CONSUMER_STAGES.map((stage) => [stage, histogramQuantiles(after.consumer, 'consumer_stage_seconds', { stage }, before.consumer)]));
  return { publish_lag: histogramQuantiles(after.relay, 'relay_publish_lag_seconds', {}, before.relay), ...(consumer as Record<ConsumerStage, Quantiles>) };
}

const stageMeaning: Record<keyof StageBreakdown, string> = {
  publish_lag: 'relay, per event: source commit → Kafka ack',
  delivered: 'consumer, per event: produced → read from Kafka',
  queued: "consumer, per event: read → its tenant's round starts",
  fetch: 'consumer, per round: Reference API answers',
  write: 'consumer, per round: write and commit',
  applied: 'consumer, per event: produced → committed to the copy',
};

/** The breakdown as a markdown table under `caption`: `| stage | p50 | p99 | count |`. */
export const stageTable = (caption: string, stages: StageBreakdown): string[] => tableOf(caption, stages, stageMeaning);
