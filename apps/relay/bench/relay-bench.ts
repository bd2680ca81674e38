/**
 * The relay benchmark (`nx run relay:bench`). One run, on fresh databases and topics:
 *   1. drain: 200,000 prefilled outbox rows over 100 tenants, with one and with two relays
 *      (the real app, as child processes);
 *   2. steady load: 2,000 events/s offered for 30 s, commit → Kafka-ack latency;
 *   3. ceilings: the producer alone (no DB) and claim-and-delete alone (no Kafka);
 *   4. baseline: a naive poller (50 rows every 500 ms, one send per row);
 *   5. what NOTIFY costs writers: POST /users throughput with and without the trigger.
 * Prints a table, appends it to BENCHMARKS.md (not with BENCH_RECORD=0), and ends with one
 * JSON line. BENCH_DRAIN_ROWS, BENCH_STEADY_RATE, BENCH_STEADY_SECONDS and RELAY_BATCH_SIZE
 * shrink or reshape a run.
 */
import { appendFile } from 'node:fs/promises';
import path from 'node:path';
import pino from 'pino';
import postgres from 'postgres';
import { createKafka, ensureTopics } from '@tenant-sync/kafka';
import { freePort, workspaceRoot } from '@tenant-sync/local-infra';
import { describeMachine, startApp, startTestInfrastructure, type AppProcess, type TestInfrastructure } from '@tenant-sync/testing';
import { createProducer } from '../src/producer.ts';
import { createRelayDatabase } from '../src/relay-database.ts';
import { percentile, recordAppendTimes } from './ack-latency.ts';
import { claimAndDeleteCeiling, producerCeiling } from './ceilings.ts';
import { naiveRelay } from './naive-relay.ts';
import { offerLoad, prefillOutbox, waitUntilDrained } from './outbox-load.ts';
import { writeThroughput } from './write-throughput.ts';

const DRAIN_ROWS = Number(process.env.BENCH_DRAIN_ROWS ?? 200_000);
const STEADY_RATE = Number(process.env.BENCH_STEADY_RATE ?? 2_000);
const STEADY_SECONDS = Number(process.env.BENCH_STEADY_SECONDS ?? 30);
const BATCH_SIZE = Number(process.env.RELAY_BATCH_SIZE ?? 2_000);

const progress = (line: string) => process.stderr.write(`[relay-bench] ${line}\n`);
const rate = (n: number) => Math.round(n).toLocaleString('en-US');

async function startRelays(infra: TestInfrastructure, topic: string, count: number): Promise<AppProcess[]> {
  return Promise.all(
    Array.from({ length: count }, async (_, n) =>
      startApp(
        'relay',
        {
          RELAY_DATABASE_URL: infra.relayAppUrl,
          KAFKA_BROKERS: infra.brokers,
          KAFKA_TOPIC: topic,
          KAFKA_DLQ_TOPIC: infra.dlqTopic,
          RELAY_BATCH_SIZE: String(BATCH_SIZE),
          RELAY_ID: `bench-relay-${n + 1}`,
          LOG_LEVEL: 'warn',
        },
        await freePort(),
      ),
    ),
  );
}

async function drain(infra: TestInfrastructure, admin: postgres.Sql, topic: string, relays: number, rows = DRAIN_ROWS): Promise<number> {
  const processes = await startRelays(infra, topic, relays);
  try {
    await prefillOutbox(admin, rows);
    const started = performance.now();
    const ms = await waitUntilDrained(admin, started, 600_000);
    return rows / (ms / 1000);
  } finally {
    await Promise.all(processes.map((relay) => relay.stop()));
  }
}

async function steadyLoad(infra: TestInfrastructure, admin: postgres.Sql, topic: string) {
  const reader = await recordAppendTimes(infra.brokers, topic);
  const [relay] = await startRelays(infra, topic, 1);
  try {
    const load = await offerLoad(admin, STEADY_RATE, STEADY_SECONDS);
    await waitUntilDrained(admin, performance.now(), 60_000);
    const deadline = Date.now() + 30_000;
    while (reader.appendedAt.size < load.offered && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 100));
    const latencies = [...load.committedAt].flatMap(([eventId, committed]) => {
      const appended = reader.appendedAt.get(eventId);
      return appended === undefined ? [] : [Math.max(0, appended - committed)];
    });
    if (latencies.length < load.offered) throw new Error(`only ${latencies.length} of ${load.offered} events were read back`);
    return {
      offeredRate: load.offered / (load.elapsedMs / 1000),
      p50: percentile(latencies, 50),
      p95: percentile(latencies, 95),
      p99: percentile(latencies, 99),
    };
  } finally {
    await relay?.stop();
    await reader.stop();
  }
}

async function main() {
  progress('starting PostgreSQL and Kafka (fresh databases and topics)');
  const { infra, stop } = await startTestInfrastructure();
  const admin = postgres(infra.sourceAdminUrl, { max: 4, onnotice: () => {} });
  const kafka = createKafka({ brokers: infra.brokers, clientId: 'relay-bench', logger: pino({ level: 'error' }) });
  const relayDb = createRelayDatabase(infra.relayAppUrl, 'relay-bench');
  const producer = createProducer(kafka);
  try {
    const machine = await describeMachine(infra.adminUrl, infra.kafkaOrigin);
    const topic = `${infra.topic}-bench`;
    await ensureTopics(kafka, [{ topic, numPartitions: 6, config: { 'message.timestamp.type': 'LogAppendTime' } }]);
    await producer.connect();

    progress('warm-up: a drain of 20,000 rows, not counted (a fresh broker JVM runs cold)');
    await drain(infra, admin, topic, 1, 20_000);
    progress(`drain of ${rate(DRAIN_ROWS)} rows, one relay`);
    const drain1 = await drain(infra, admin, topic, 1);
    progress(`  ${rate(drain1)} events/s; again with two relays`);
    const drain2 = await drain(infra, admin, topic, 2);
    progress(`  ${rate(drain2)} events/s; steady load of ${rate(STEADY_RATE)} events/s for ${STEADY_SECONDS} s`);
    const steady = await steadyLoad(infra, admin, topic);
    progress(`  p50 ${steady.p50} ms, p99 ${steady.p99} ms; producer ceiling`);
    const producerEps = await producerCeiling(producer, topic, DRAIN_ROWS, BATCH_SIZE);
    progress(`  ${rate(producerEps)} events/s; claim-and-delete ceiling`);
    const claimEps = await claimAndDeleteCeiling(admin, relayDb, DRAIN_ROWS, BATCH_SIZE);
    progress(`  ${rate(claimEps)} rows/s; naive poller for 15 s`);
    await prefillOutbox(admin, DRAIN_ROWS);
    const naiveEps = await naiveRelay(admin, producer, topic, 15);
    await admin`DELETE FROM outbox`;
    progress(`  ${rate(naiveEps)} events/s; POST /users with and without the NOTIFY trigger`);
    const writes = await writeThroughput(infra, admin);

    const ceiling = Math.min(producerEps, claimEps);
    const result = {
      drain_eps_1: Math.round(drain1),
      drain_eps_2: Math.round(drain2),
      p50_ms: steady.p50,
      p95_ms: steady.p95,
      p99_ms: steady.p99,
      producer_eps: Math.round(producerEps),
      claim_delete_eps: Math.round(claimEps),
      ceiling_eps: Math.round(ceiling),
      ceiling_fraction: Number((drain1 / ceiling).toFixed(2)),
      naive_eps: Math.round(naiveEps),
      writes_rps_notify: Math.round(writes.withNotify),
      writes_rps_no_notify: Math.round(writes.withoutNotify),
      batch_size: BATCH_SIZE,
    };
    const report = [
      `### Relay — ${new Date().toISOString().slice(0, 16).replace('T', ' ')} UTC`,
      '',
      `Machine: ${machine.cores} cores (${machine.cpu}), ${machine.memoryGiB} GiB; Node ${machine.node}, PostgreSQL ${machine.postgres}, Kafka ${machine.kafka}. ` +
        `Relay batch size ${BATCH_SIZE}. Everything (PostgreSQL, the broker, the relays, the load) on this one machine.`,
      '',
      '| measure | result |',
      '|---|---|',
      `| drain ${rate(DRAIN_ROWS)} rows, 100 tenants, 1 relay | ${rate(drain1)} events/s |`,
      `| drain, 2 relays | ${rate(drain2)} events/s |`,
      `| steady ${rate(steady.offeredRate)} events/s for ${STEADY_SECONDS} s, commit → Kafka ack | p50 ${steady.p50} ms · p95 ${steady.p95} ms · p99 ${steady.p99} ms |`,
      `| ceiling: producer alone (no DB) | ${rate(producerEps)} events/s |`,
      `| ceiling: claim + delete alone (no Kafka) | ${rate(claimEps)} rows/s |`,
      `| relay (1) / lower ceiling | ${Math.round((drain1 / ceiling) * 100)} % |`,
      `| naive poller (50 rows / 500 ms, one send per row) | ${rate(naiveEps)} events/s |`,
      `| POST /users, 16 concurrent clients, with NOTIFY trigger | ${rate(writes.withNotify)} requests/s |`,
      `| POST /users, same, trigger disabled | ${rate(writes.withoutNotify)} requests/s |`,
      '',
    ].join('\n');
    process.stdout.write(`\n${report}\n`);
    if (process.env.BENCH_RECORD !== '0') await appendFile(path.join(workspaceRoot, 'BENCHMARKS.md'), `${report}\n`);
    process.stdout.write(`${JSON.stringify(result)}\n`);
  } finally {
    await producer.disconnect().catch(() => {});
    await relayDb.destroy();
    await admin.end();
    await stop();
  }
}

await main();
