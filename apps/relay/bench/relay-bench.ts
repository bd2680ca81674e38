/**
 * The relay benchmark (`nx run relay:bench`). One run, on fresh databases and topics:
 *   1. drain: 200,000 prefilled outbox rows over 100 tenants, with one and with two relays
 *      (the real app, as child processes);
 *   2. steady load: 2,000 events/s offered for 30 s through a running relay, commit → Kafka-ack
 *      latency, and where the time goes (the relay's stage histograms, read off its /metrics);
 *   3. ceilings: the producer alone (no DB) and claim-and-delete alone (no Kafka);
 *   4. baseline: a naive poller (50 rows every 500 ms, one send per row);
 *   5. what NOTIFY costs writers: POST /users throughput with and without the trigger.
 * With BENCH_ANCHOR=debezium, Debezium's drain and steady load run first through the anchor
 * (`debezium-anchor.ts`), and the relay is then measured on the anchor's PostgreSQL and broker:
 * one tool after the other, in one run, on the same cluster, broker and machine.
 * Prints a table, appends it to BENCHMARKS.md and its figures to benchmarks/runs.jsonl (not
 * with BENCH_RECORD=0), and ends with one JSON line. BENCH_DRAIN_ROWS, BENCH_STEADY_RATE,
 * BENCH_STEADY_SECONDS and RELAY_BATCH_SIZE shrink or reshape a run; BENCH_QUICK=1 runs the
 * drains and the steady load only (phases 1 and 2).
 */
import { execFile } from 'node:child_process';
import { appendFile, mkdir } from 'node:fs/promises';
import { loadavg } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import pino from 'pino';
import postgres from 'postgres';
import { createKafka, ensureTopics, type Kafka } from '@tenant-sync/kafka';
import { freePort, workspaceRoot } from '@tenant-sync/local-infra';
import { describeMachine, phaseStart, scrapeMetrics, phaseUse, phaseUseTable, startApp, startTestInfrastructure, type AppProcess, type TestInfrastructure } from '@tenant-sync/testing';
import { createProducer } from '../src/producer.ts';
import { createRelayDatabase } from '../src/relay-database.ts';
import { percentile, recordAppendTimes } from './ack-latency.ts';
import { claimAndDeleteCeiling, producerCeiling } from './ceilings.ts';
import { anchorInfrastructure, prepareAnchor, runDebezium, type DebeziumResult } from './debezium-anchor.ts';
import { naiveRelay } from './naive-relay.ts';
import { offerLoad, prefillOutbox, waitUntilDrained } from './outbox-load.ts';
import { scrapeStages, stageTable } from './stage-breakdown.ts';
import { writeThroughput } from './write-throughput.ts';

const DRAIN_ROWS = Number(process.env.BENCH_DRAIN_ROWS ?? 200_000);
const STEADY_RATE = Number(process.env.BENCH_STEADY_RATE ?? 2_000);
const STEADY_SECONDS = Number(process.env.BENCH_STEADY_SECONDS ?? 30);
const BATCH_SIZE = Number(process.env.RELAY_BATCH_SIZE ?? 2_000);
const ANCHOR = process.env.BENCH_ANCHOR;
const QUICK = process.env.BENCH_QUICK === '1';
const RECORD = process.env.BENCH_RECORD !== '0';

const progress = (line: string) => process.stderr.write(`[relay-bench] ${line}\n`);
const rate = (n: number) => Math.round(n).toLocaleString('en-US');

/** The relays publish to `<prefix>-user`: the bench's own topic, made with LogAppendTime. */
async function startRelays(infra: TestInfrastructure, topicPrefix: string, count: number): Promise<AppProcess[]> {
  return Promise.all(
    Array.from({ length: count }, async (_, n) =>
      startApp(
        'relay',
        {
          RELAY_DATABASE_URL: infra.relayAppUrl,
          KAFKA_BROKERS: infra.brokers,
          KAFKA_TOPIC_TEMPLATE: `${topicPrefix}-{type}`,
          RELAY_BATCH_SIZE: String(BATCH_SIZE),
          RELAY_ID: `bench-relay-${n + 1}`,
          LOG_LEVEL: 'warn',
        },
        await freePort(),
      ),
    ),
  );
}

/**
 * What autovacuum does between phases in production (the outbox is vacuumed every 10,000 dead
 * rows, migration 005); here it is off, and a phase would otherwise measure the dead rows the
 * phase before left in the indexes, not the relay.
 */
const vacuumOutbox = (admin: postgres.Sql) => admin.unsafe('VACUUM ANALYZE outbox');

async function drain(infra: TestInfrastructure, admin: postgres.Sql, topicPrefix: string, relays: number, rows = DRAIN_ROWS) {
  await vacuumOutbox(admin);
  const processes = await startRelays(infra, topicPrefix, relays);
  try {
    await prefillOutbox(admin, rows);
    const started = performance.now();
    const ms = await waitUntilDrained(admin, started, 600_000);
    const stages = relays === 1 && processes[0] ? await scrapeStages(processes[0].opsPort) : undefined;
    return { eps: rows / (ms / 1000), stages };
  } finally {
    await Promise.all(processes.map((relay) => relay.stop()));
  }
}

/**
 * When the notifications of the load's commits reach a listener of this process: the same
 * path the relay's listener takes. Each commit of the load sends one notification, delivered
 * in commit order, and nothing else writes the outbox meanwhile.
 */
async function recordNotifications(adminUrl: string) {
  const listener = postgres(adminUrl, { max: 1, onnotice: () => {} });
  const arrivals: number[] = [];
  await listener.listen('outbox_pending', () => void arrivals.push(Date.now()));
  return { arrivals, stop: () => listener.end({ timeout: 5 }) };
}

/**
 * The steady load goes through a relay that is already running, as Debezium's goes through the
 * connector that has just drained: `STEADY_WARMUP_SECONDS` of the same load first, not counted.
 * A relay started with the load spent its first half second compiling, connecting and fetching
 * the topic's metadata: those 1,000 events were the whole p99 of a run (99 ms; 45 ms without
 * them, BENCHMARKS.md, eleventh session).
 */
const STEADY_WARMUP_SECONDS = 5;

async function steadyLoad(infra: TestInfrastructure, admin: postgres.Sql, topicPrefix: string) {
  await vacuumOutbox(admin);
  const reader = await recordAppendTimes(infra.brokers, `${topicPrefix}-user`);
  const [relay] = await startRelays(infra, topicPrefix, 1);
  if (!relay) throw new Error('no relay started');
  const notifications = await recordNotifications(infra.sourceAdminUrl);
  try {
    await offerLoad(admin, STEADY_RATE, STEADY_WARMUP_SECONDS, 'warm-up');
    await waitUntilDrained(admin, performance.now(), 60_000);
    notifications.arrivals.length = 0;
    const warm = await scrapeMetrics(relay.opsPort);
    const started = await phaseStart([relay]);
    const load = await offerLoad(admin, STEADY_RATE, STEADY_SECONDS);
    await waitUntilDrained(admin, performance.now(), 60_000);
    const use = await phaseUse(started);
    const stages = await scrapeStages(relay.opsPort, warm);
    const deadline = Date.now() + 30_000;
    const unread = () => [...load.committedAt.keys()].some((eventId) => !reader.appendedAt.has(eventId));
    while (unread() && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 100));
    const latencies = [...load.committedAt].flatMap(([eventId, committed]) => {
      const appended = reader.appendedAt.get(eventId);
      return appended === undefined ? [] : [Math.max(0, appended - committed)];
    });
    if (latencies.length < load.offered) throw new Error(`only ${latencies.length} of ${load.offered} events were read back`);
    const notifyDelays = load.commits.slice(0, notifications.arrivals.length).map((committed, n) => (notifications.arrivals[n] ?? committed) - committed);
    return {
      offeredRate: load.offered / (load.elapsedMs / 1000),
      p50: percentile(latencies, 50),
      p95: percentile(latencies, 95),
      p99: percentile(latencies, 99),
      notify: { commits: load.commits.length, notified: notifications.arrivals.length, p50: percentile(notifyDelays, 50), p99: percentile(notifyDelays, 99) },
      stages,
      use,
    };
  } finally {
    await relay.stop();
    await notifications.stop();
    await reader.stop();
  }
}

async function deleteTopics(kafka: Kafka, topics: string[]): Promise<void> {
  const admin = kafka.admin();
  await admin.connect();
  await admin.deleteTopics({ topics }).finally(() => admin.disconnect());
}

const ratio = (relay: number, debezium: number) => Number((relay / debezium).toFixed(2));

/** One line of benchmarks/runs.jsonl: what tools/bench-charts.ts plots. */
type RelayRun = Record<string, unknown>;

/** Appends the report to BENCHMARKS.md and the run to benchmarks/runs.jsonl, then redraws the charts. */
async function record(report: string, run: RelayRun): Promise<void> {
  await appendFile(path.join(workspaceRoot, 'BENCHMARKS.md'), `\n${report}\n`);
  await mkdir(path.join(workspaceRoot, 'benchmarks'), { recursive: true });
  await appendFile(path.join(workspaceRoot, 'benchmarks', 'runs.jsonl'), `${JSON.stringify(run)}\n`);
  await promisify(execFile)(process.execPath, [path.join(workspaceRoot, 'tools', 'bench-charts.ts')], { cwd: workspaceRoot });
}

async function main() {
  const loadAtStart = loadavg();
  let debezium: DebeziumResult | undefined;
  if (ANCHOR === 'debezium') {
    progress('Debezium anchor: set-up (jars, PostgreSQL, broker), then its drain and steady load');
    await prepareAnchor();
    debezium = await runDebezium(DRAIN_ROWS, STEADY_RATE, STEADY_SECONDS);
    progress(`  Debezium: drain ${rate(debezium.drain_eps)} events/s, steady p50 ${debezium.p50_ms} ms, p99 ${debezium.p99_ms} ms; now the relay on the same PostgreSQL and broker`);
    // The test infrastructure takes its PostgreSQL and broker from these: the anchor's.
    process.env.DATABASE_ADMIN_URL = anchorInfrastructure.adminUrl;
    process.env.KAFKA_BROKERS = anchorInfrastructure.brokers;
  } else if (ANCHOR) {
    throw new Error(`BENCH_ANCHOR=${ANCHOR}: the only anchor is debezium`);
  }
  progress('starting PostgreSQL and Kafka (fresh databases and topics)');
  const { infra, stop } = await startTestInfrastructure();
  const admin = postgres(infra.sourceAdminUrl, { max: 4, onnotice: () => {} });
  const kafkaOptions = { brokers: infra.brokers, clientId: 'relay-bench', logger: pino({ level: 'error' }) };
  const kafka = createKafka(kafkaOptions);
  const relayDb = createRelayDatabase(infra.relayAppUrl, 'relay-bench');
  const producer = createProducer(kafkaOptions);
  const topicPrefix = `relay-bench-${Date.now()}`;
  const topic = `${topicPrefix}-user`;
  try {
    const machine = await describeMachine(infra.adminUrl, infra.kafkaOrigin);
    await ensureTopics(kafka, [{ topic, numPartitions: 6, config: { 'message.timestamp.type': 'LogAppendTime' } }]);
    await producer.connect();

    progress('warm-up: a drain of 20,000 rows, not counted (a fresh broker JVM runs cold)');
    await drain(infra, admin, topicPrefix, 1, 20_000);
    progress(`drain of ${rate(DRAIN_ROWS)} rows, one relay`);
    const drain1 = await drain(infra, admin, topicPrefix, 1);
    progress(`  ${rate(drain1.eps)} events/s; again with two relays`);
    const drain2 = await drain(infra, admin, topicPrefix, 2);
    progress(`  ${rate(drain2.eps)} events/s; steady load of ${rate(STEADY_RATE)} events/s for ${STEADY_SECONDS} s`);
    const steady = await steadyLoad(infra, admin, topicPrefix);
    progress(`  p50 ${steady.p50} ms, p99 ${steady.p99} ms`);

    let ceilings: { producerEps: number; claimEps: number; naiveEps: number; writes: { withNotify: number; withoutNotify: number } } | undefined;
    if (!QUICK) {
      progress('producer ceiling');
      const producerEps = await producerCeiling(producer, topic, DRAIN_ROWS, BATCH_SIZE);
      progress(`  ${rate(producerEps)} events/s; claim-and-delete ceiling`);
      const claimEps = await claimAndDeleteCeiling(admin, relayDb, DRAIN_ROWS, BATCH_SIZE);
      progress(`  ${rate(claimEps)} rows/s; naive poller for 15 s`);
      await prefillOutbox(admin, DRAIN_ROWS);
      const naiveEps = await naiveRelay(admin, producer, topic, 15);
      await admin`DELETE FROM outbox`;
      progress(`  ${rate(naiveEps)} events/s; POST /users with and without the NOTIFY trigger`);
      const writes = await writeThroughput(infra, admin);
      ceilings = { producerEps, claimEps, naiveEps, writes };
    }
    const loadAtEnd = loadavg();

    const ceiling = ceilings ? Math.min(ceilings.producerEps, ceilings.claimEps) : undefined;
    const result = {
      drain_eps_1: Math.round(drain1.eps),
      drain_eps_2: Math.round(drain2.eps),
      p50_ms: steady.p50,
      p95_ms: steady.p95,
      p99_ms: steady.p99,
      ...(ceilings && ceiling
        ? {
            producer_eps: Math.round(ceilings.producerEps),
            claim_delete_eps: Math.round(ceilings.claimEps),
            ceiling_eps: Math.round(ceiling),
            ceiling_fraction: Number((drain1.eps / ceiling).toFixed(2)),
            naive_eps: Math.round(ceilings.naiveEps),
            writes_rps_notify: Math.round(ceilings.writes.withNotify),
            writes_rps_no_notify: Math.round(ceilings.writes.withoutNotify),
          }
        : {}),
      batch_size: BATCH_SIZE,
      ...(debezium
        ? {
            debezium_drain_eps: debezium.drain_eps,
            debezium_p50_ms: debezium.p50_ms,
            debezium_p95_ms: debezium.p95_ms,
            debezium_p99_ms: debezium.p99_ms,
            drain_vs_debezium: ratio(drain1.eps, debezium.drain_eps),
            p99_vs_debezium: ratio(steady.p99, debezium.p99_ms),
          }
        : {}),
      notify_p50_ms: steady.notify.p50,
      notify_p99_ms: steady.notify.p99,
      stages_ms: steady.stages,
      cores: steady.use.cores,
      gc_ms: steady.use.gc,
      drain_stages_ms: drain1.stages,
      load_avg_start: Number(loadAtStart[0]?.toFixed(2)),
      load_avg_end: Number(loadAtEnd[0]?.toFixed(2)),
    };
    const stamp = new Date().toISOString().slice(0, 16).replace('T', ' ');
    const report = [
      `### Relay — ${stamp} UTC`,
      '',
      `Machine: ${machine.cores} cores (${machine.cpu}), ${machine.memoryGiB} GiB; Node ${machine.node}, PostgreSQL ${machine.postgres}, Kafka ${machine.kafka}. ` +
        `Relay batch size ${BATCH_SIZE}. Everything (PostgreSQL, the broker, the relays, the load${debezium ? ', Debezium' : ''}) on this one machine. ` +
        `Load average (1 min) ${result.load_avg_start} at the start, ${result.load_avg_end} at the end.` +
        (debezium ? ` Debezium (${debezium.tool}, the anchor of ../shared/anchors/debezium) ran first, then the relay, on the same PostgreSQL cluster and broker.` : ''),
      '',
      debezium ? '| measure | relay | Debezium | relay ÷ Debezium |' : '| measure | result |',
      debezium ? '|---|---|---|---|' : '|---|---|',
      debezium
        ? `| drain ${rate(DRAIN_ROWS)} rows, 100 tenants, 1 relay (events/s) | ${rate(drain1.eps)} | ${rate(debezium.drain_eps)} | ${result.drain_vs_debezium} |`
        : `| drain ${rate(DRAIN_ROWS)} rows, 100 tenants, 1 relay | ${rate(drain1.eps)} events/s |`,
      debezium
        ? `| steady ${rate(STEADY_RATE)} events/s for ${STEADY_SECONDS} s, commit → Kafka ack, p50 / p95 / p99 (ms) | ${steady.p50} / ${steady.p95} / ${steady.p99} | ${debezium.p50_ms} / ${debezium.p95_ms} / ${debezium.p99_ms} | p99 ${result.p99_vs_debezium} |`
        : `| steady ${rate(steady.offeredRate)} events/s for ${STEADY_SECONDS} s, commit → Kafka ack | p50 ${steady.p50} ms · p95 ${steady.p95} ms · p99 ${steady.p99} ms |`,
      debezium ? `| drain, 2 relays (events/s) | ${rate(drain2.eps)} | | |` : `| drain, 2 relays | ${rate(drain2.eps)} events/s |`,
      ...(ceilings && ceiling
        ? [
            `| ceiling: producer alone (no DB) | ${rate(ceilings.producerEps)} events/s |${debezium ? ' | |' : ''}`,
            `| ceiling: claim + delete alone (no Kafka) | ${rate(ceilings.claimEps)} rows/s |${debezium ? ' | |' : ''}`,
            `| relay (1) / lower ceiling | ${Math.round((drain1.eps / ceiling) * 100)} % |${debezium ? ' | |' : ''}`,
            `| naive poller (50 rows / 500 ms, one send per row) | ${rate(ceilings.naiveEps)} events/s |${debezium ? ' | |' : ''}`,
            `| POST /users, 16 concurrent clients, with NOTIFY trigger | ${rate(ceilings.writes.withNotify)} requests/s |${debezium ? ' | |' : ''}`,
            `| POST /users, same, trigger disabled | ${rate(ceilings.writes.withoutNotify)} requests/s |${debezium ? ' | |' : ''}`,
          ]
        : []),
      '',
      ...(steady.stages
        ? stageTable(
            `Where the steady load's time went (the relay's histograms; commit → NOTIFY at a listener of the bench: p50 ${steady.notify.p50} ms, p99 ${steady.notify.p99} ms):`,
            steady.stages,
          )
        : []),
      ...phaseUseTable("Where the steady load's cores went", steady.use, machine.cores),
    ].join('\n');
    process.stdout.write(`\n${report}\n`);
    if (RECORD) await record(report, { bench: 'relay', at: new Date().toISOString(), machine, ...result });
    process.stdout.write(`${JSON.stringify(result)}\n`);
  } finally {
    await producer.disconnect().catch(() => {});
    await deleteTopics(kafka, [topic, `${topic}.dlq`]).catch(() => {});
    await relayDb.destroy();
    await admin.end();
    await stop();
  }
}

await main();
