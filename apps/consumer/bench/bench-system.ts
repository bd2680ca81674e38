/** What both consumer benchmarks share: the apps as child processes, counting and percentiles. */
import { setTimeout as sleep } from 'node:timers/promises';
import type postgres from 'postgres';
import { freePort } from '@tenant-sync/local-infra';
import { startApp, type TestInfrastructure } from '@tenant-sync/testing';

export function percentile(values: number[], p: number): number {
  const sorted = [...values].sort((x, y) => x - y);
  const index = Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1);
  return Math.round((sorted[Math.max(0, index)] ?? 0) * 10) / 10;
}

export async function countSynced(consumer: postgres.Sql): Promise<number> {
  const [row] = await consumer`SELECT count(*)::int AS n FROM synced_users`;
  return row?.n ?? 0;
}

export async function waitForCount(consumer: postgres.Sql, count: number, timeoutMs: number, report?: (n: number) => void): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let last = Date.now();
  for (;;) {
    const n = await countSynced(consumer);
    if (n >= count) return;
    if (Date.now() > deadline) throw new Error(`only ${n} of ${count} users synced after ${timeoutMs} ms`);
    if (report && Date.now() - last > 5_000) {
      report(n);
      last = Date.now();
    }
    await sleep(50);
  }
}

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
      KAFKA_GROUP_ID: `bench-${Date.now()}`,
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
    { RELAY_DATABASE_URL: infra.relayAppUrl, KAFKA_BROKERS: infra.brokers, KAFKA_TOPIC_TEMPLATE: topicTemplate, RELAY_ID: 'bench-relay', LOG_LEVEL: 'warn' },
    await freePort(),
  );

