/**
 * The end-to-end benchmark of the consumer (`nx run consumer:bench`). One run, on fresh
 * databases and topics, with the real source, relay and consumer as child processes:
 *   1. throughput: 100,000 users inserted in source_db (the trigger writes their outbox rows)
 *      before the relay starts; users/s from the relay's start until consumer_db holds them all;
 *   2. latency: 500 new users/s offered for 30 s by direct inserts; source commit (the moment
 *      the INSERT's COMMIT returned, as the relay bench measures commit → Kafka) → consumer
 *      commit (synced_users.synced_at, the PostgreSQL server's clock, on this same machine).
 * Prints a table, appends it to BENCHMARKS.md (not with BENCH_RECORD=0), and ends with one
 * JSON line. BENCH_USERS, BENCH_TENANTS, BENCH_RATE, BENCH_SECONDS and the consumer's own
 * settings (CONSUMER_CONCURRENCY, DATABASE_POOL_SIZE, …, passed through) reshape a run.
 */
import { appendFile } from 'node:fs/promises';
import { loadavg } from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import pino from 'pino';
import postgres from 'postgres';
import { eventTopic } from '@tenant-sync/contracts';
import { createKafka, ensureTopics } from '@tenant-sync/kafka';
import { workspaceRoot } from '@tenant-sync/local-infra';
import { counterTotal, describeMachine, phaseStart, phaseUse, phaseUseTable, startTestInfrastructure, type AppProcess } from '@tenant-sync/testing';
import { percentile, scrapeStages, stagesBetween, stageTable, startApps, startRelay, waitForCount } from './bench-system.ts';

const USERS = Number(process.env.BENCH_USERS ?? 100_000);
const TENANTS = Number(process.env.BENCH_TENANTS ?? 10);
const RATE = Number(process.env.BENCH_RATE ?? 500);
const SECONDS = Number(process.env.BENCH_SECONDS ?? 30);
const PARTITIONS = 6;

const progress = (line: string) => process.stderr.write(`[consumer-bench] ${line}\n`);
const rate = (n: number) => Math.round(n).toLocaleString('en-US');
const benchTenant = (n: number) => `00000000-0000-0000-0001-${String(n).padStart(12, '0')}`;

/**
 * Offers `perSecond` new users for `seconds` as small transactions (about 10 rows each, up to
 * 40 when catching up on the schedule); resolves with the rate offered and, for each user, when
 * its transaction's COMMIT returned (ms, this process's clock).
 */
async function offerUsers(source: postgres.Sql, perSecond: number, seconds: number) {
  const started = performance.now();
  const total = perSecond * seconds;
  const committed = new Map<string, number>();
  let offered = 0;
  while (offered < total) {
    const due = Math.min(total, Math.floor(((performance.now() - started) / 1000) * perSecond));
    if (due - offered < 10 && due < total) {
      await sleep(1);
      continue;
    }
    const count = Math.min(due - offered, 40);
    const rows = await source.unsafe(`
      INSERT INTO users (org_id, name, email)
      SELECT ('00000000-0000-0000-0001-' || lpad((n % ${TENANTS})::text, 12, '0'))::uuid, 'Steady ' || n, 'steady' || n || '@bench.test'
        FROM generate_series(${offered}, ${offered + count - 1}) n
      RETURNING id`);
    const at = Date.now();
    for (const row of rows) committed.set(row.id as string, at);
    offered += count;
  }
  return { offeredRate: total / ((performance.now() - started) / 1000), committed };
}

async function main() {
  progress('starting PostgreSQL and Kafka (fresh databases and topics)');
  const { infra, stop } = await startTestInfrastructure();
  const source = postgres(infra.sourceAdminUrl, { max: 4, onnotice: () => {} });
  const consumerDb = postgres(infra.consumerAdminUrl, { max: 2, onnotice: () => {} });
  const kafka = createKafka({ brokers: infra.brokers, clientId: 'consumer-bench', logger: pino({ level: 'error' }) });
  const apps: AppProcess[] = [];
  try {
    const machine = await describeMachine(infra.adminUrl, infra.kafkaOrigin);
    const loadAtStart = loadavg()[0]!.toFixed(1);
    const topicTemplate = `consumer-bench-${Date.now()}-{type}`;
    const topic = eventTopic(topicTemplate, 'USER');
    await ensureTopics(kafka, [
      { topic, numPartitions: PARTITIONS },
      { topic: `${topic}.dlq`, numPartitions: 1 },
    ]);
    for (let n = 0; n < TENANTS; n += 1) {
      await source`INSERT INTO organizations (id, name, status) VALUES (${benchTenant(n)}, ${`Bench ${n}`}, 'ACTIVE')`;
    }

    progress(`prefill: ${rate(USERS)} users over ${TENANTS} tenants, outbox rows by the trigger`);
    await source.unsafe(`
      INSERT INTO users (org_id, name, email)
      SELECT ('00000000-0000-0000-0001-' || lpad((n % ${TENANTS})::text, 12, '0'))::uuid, 'User ' || n, 'user' || n || '@bench.test'
        FROM generate_series(0, ${USERS - 1}) n`);
    const [outbox] = await source`SELECT count(*)::int AS n FROM outbox`;
    if (outbox?.n !== USERS) throw new Error(`expected ${USERS} outbox rows, found ${outbox?.n}`);

    const { source: sourceApp, consumer, consumerOpsPort } = await startApps(infra, topicTemplate);
    apps.push(sourceApp, consumer);
    progress('source and consumer ready; starting the relay, clock running');
    const started = Date.now();
    const relay = await startRelay(infra, topicTemplate);
    apps.push(relay);
    // Where the prefill's time and cores go, from the relay's readiness (it claims from its start).
    const beforePrefill = await scrapeStages(relay.opsPort, consumerOpsPort);
    const prefillStart = await phaseStart(apps);
    const e2eMs = (await waitForCount(consumerDb, USERS, 600_000, (n) => progress(`  ${rate(n)} synced`))) - started;
    const prefillUse = await phaseUse(prefillStart);
    const afterPrefill = await scrapeStages(relay.opsPort, consumerOpsPort);
    const prefillStages = stagesBetween(beforePrefill, afterPrefill);
    // The prefill runs in one of two regimes: RELAY_MAX_LAG counts only the partitions the
    // consumer group has committed on, so when the relay drains the outbox before the first
    // commits it is never held (docs/relay.md). The holds say which one a run was in.
    const prefillLagHolds = counterTotal(afterPrefill.relay, 'relay_lag_holds_total', beforePrefill.relay);
    const e2eUps = USERS / (e2eMs / 1000);
    progress(`  ${rate(e2eUps)} users/s end to end; steady ${RATE} users/s for ${SECONDS} s`);

    // What autovacuum does between the phases in production (the outbox is vacuumed every
    // 10,000 dead rows, migration 005), as the relay and fairness benches do: this machine's
    // PostgreSQL runs without it, and the steady phase is about the latency at 500/s, not the
    // 100,000 deleted outbox rows the prefill left in the indexes.
    await source.unsafe('VACUUM ANALYZE outbox, users');
    await consumerDb.unsafe('VACUUM ANALYZE synced_users');

    const since = new Date();
    const beforeSteady = await scrapeStages(relay.opsPort, consumerOpsPort);
    const steadyStart = await phaseStart(apps);
    const { offeredRate, committed } = await offerUsers(source, RATE, SECONDS);
    await waitForCount(consumerDb, USERS + RATE * SECONDS, 120_000);
    const steadyUse = await phaseUse(steadyStart);
    const stages = stagesBetween(beforeSteady, await scrapeStages(relay.opsPort, consumerOpsPort));
    const synced = await consumerDb`SELECT id, extract(epoch FROM synced_at) * 1000 AS ms FROM synced_users WHERE synced_at >= ${since}`;
    const latencies = synced.flatMap((row) => {
      const at = committed.get(row.id as string);
      return at === undefined ? [] : [Math.max(0, Number(row.ms) - at)];
    });
    if (latencies.length !== RATE * SECONDS) throw new Error(`matched ${latencies.length} of ${RATE * SECONDS} steady users`);
    const [p50, p95, p99] = [percentile(latencies, 50), percentile(latencies, 95), percentile(latencies, 99)];
    progress(`  p50 ${p50} ms, p95 ${p95} ms, p99 ${p99} ms`);
    // Where the tail sits in time: p99 and max per 5 s of the steady phase.
    const windows = new Map<number, number[]>();
    const firstCommit = Math.min(...committed.values());
    for (const row of synced) {
      const at = committed.get(row.id as string);
      if (at === undefined) continue;
      const window = Math.floor((at - firstCommit) / 5_000);
      windows.set(window, [...(windows.get(window) ?? []), Math.max(0, Number(row.ms) - at)]);
    }
    progress(
      `  per 5 s: ${[...windows.entries()].sort(([x], [y]) => x - y).map(([window, values]) => `${window * 5}s p99 ${percentile(values, 99)} max ${percentile(values, 100)}`).join(' · ')}`,
    );
    const errors = apps.flatMap((app) => app.logLines().filter((line) => Number(line.level) >= 50).map((line) => `${app.name}: ${line.msg ?? line.raw}`));

    const result = {
      e2e_ups: Math.round(e2eUps),
      e2e_ms: Math.round(e2eMs),
      users: USERS,
      tenants: TENANTS,
      offered_ups: Math.round(offeredRate),
      p50_ms: p50,
      p95_ms: p95,
      p99_ms: p99,
      errors: errors.length,
      stages_ms: stages,
      cores: steadyUse.cores,
      gc_ms: steadyUse.gc,
      prefill_lag_holds: prefillLagHolds,
      prefill_stages_ms: prefillStages,
      prefill_cores: prefillUse.cores,
      prefill_gc_ms: prefillUse.gc,
    };
    const report = [
      `### Consumer, end to end — ${new Date().toISOString().slice(0, 16).replace('T', ' ')} UTC`,
      '',
      `Machine: ${machine.cores} cores (${machine.cpu}), ${machine.memoryGiB} GiB; Node ${machine.node}, PostgreSQL ${machine.postgres}, Kafka ${machine.kafka}. ` +
        `Source, relay and consumer (one each, defaults), PostgreSQL, the broker and the load all on this one machine; ${PARTITIONS} partitions, ${TENANTS} tenants. ` +
        `Load average at start ${loadAtStart}, at end ${loadavg()[0]!.toFixed(1)} (other work on the machine counts).`,
      '',
      '| measure | result | target |',
      '|---|---|---|',
      `| ${rate(USERS)} users prefilled in source_db (outbox by trigger) → all in consumer_db, from the relay's start | ${rate(e2eUps)} users/s (${(e2eMs / 1000).toFixed(1)} s; RELAY_MAX_LAG held the relay ${rate(prefillLagHolds)} times) | ≥ 10,000 users/s |`,
      `| steady ${rate(offeredRate)} new users/s for ${SECONDS} s, source commit → consumer commit | p50 ${p50} ms · p95 ${p95} ms · p99 ${p99} ms | p99 ≤ 100 ms |`,
      `| error log lines of the three apps | ${errors.length} | 0 |`,
      '',
      ...stageTable("Where the steady phase's time went (the apps' histograms):", stages),
      ...phaseUseTable("Where the steady phase's cores went", steadyUse, machine.cores),
      ...stageTable("Where the prefill's time went, from the relay's readiness to the last user in the copy (the apps' histograms):", prefillStages),
      ...phaseUseTable("Where the prefill's cores went, from the relay's readiness to the last user in the copy", prefillUse, machine.cores),
    ].join('\n');
    process.stdout.write(`\n${report}\n`);
    if (errors.length > 0) process.stdout.write(`${errors.slice(0, 10).join('\n')}\n`);
    if (process.env.BENCH_RECORD !== '0') await appendFile(path.join(workspaceRoot, 'BENCHMARKS.md'), `${report}\n`);
    process.stdout.write(`${JSON.stringify(result)}\n`);
  } finally {
    for (const app of apps.reverse()) await app.stop(10_000).catch(() => {});
    await source.end();
    await consumerDb.end();
    await stop();
  }
}

await main();
