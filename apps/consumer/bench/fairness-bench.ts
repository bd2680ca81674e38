/**
 * Tenants isolated in time (`nx run consumer:bench-fairness`). One run, fresh databases and
 * topics, the real source, relay and consumer as child processes:
 *   1. quiet idle: a quiet tenant writes one user every 50 ms; source commit → consumer commit;
 *   2. import alone: another tenant imports BENCH_IMPORT users (default 100,000) in one
 *      transaction, as a data migration would; users/s until all are in the copy;
 *   3. import shared: the same import again while the quiet tenant keeps writing; the quiet
 *      tenant's latency during the import, and the import's rate.
 * Latency runs from the moment the quiet INSERT's COMMIT returned (the bench's clock) to
 * synced_users.synced_at (the PostgreSQL server's clock; both on this one machine), as the relay
 * bench measures commit → Kafka; how long the INSERT itself took to commit is printed apart.
 * Prints a table, appends it to BENCHMARKS.md (not with BENCH_RECORD=0), and ends with one JSON
 * line.
 */
import { appendFile } from 'node:fs/promises';
import { loadavg } from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import pino from 'pino';
import postgres from 'postgres';
import { EventHeaders, eventTopic } from '@tenant-sync/contracts';
import { createKafka, ensureTopics } from '@tenant-sync/kafka';
import { workspaceRoot } from '@tenant-sync/local-infra';
import { describeMachine, phaseStart, phaseUse, phaseUseTable, readTopic, startTestInfrastructure, testTenants, type AppProcess } from '@tenant-sync/testing';
import { percentile, startApps, startRelay, waitForCount } from './bench-system.ts';

const IMPORT = Number(process.env.BENCH_IMPORT ?? 100_000);
/**
 * One quiet user every 50 ms: about 200 changes idle and 300 during an import, so each p99 is a
 * percentile. At one every 200 ms (until 2026-11-28) there were 50 and 75, and the p99 of each
 * was its slowest change: one stall in the idle phase moved the target threefold.
 */
const QUIET_EVERY_MS = 50;
const IDLE_SECONDS = 10;
const PARTITIONS = 6;
const { a: quiet, b: importer } = testTenants;

/** A quiet user written: when its INSERT was sent and when its COMMIT returned (ms). */
interface QuietWrite {
  id: string;
  sentMs: number;
  committedMs: number;
}

interface QuietChange extends QuietWrite {
  syncedMs: number;
}

/**
 * Each change's latency, whole and split at the moment the relay produced it; with the time
 * its INSERT took, and when its commit's notification reached a listener of this process (the
 * first to arrive after the INSERT was sent: the quiet writes go one at a time).
 */
function splitLatencies(changes: QuietChange[], producedAt: ReadonlyMap<string | null, number>, notified: readonly number[]) {
  const split = { total: [] as number[], relay: [] as number[], consumer: [] as number[], insert: [] as number[], notify: [] as number[] };
  for (const change of changes) {
    split.total.push(Math.max(0, change.syncedMs - change.committedMs));
    split.insert.push(change.committedMs - change.sentMs);
    const notification = notified.find((at) => at >= change.sentMs);
    if (notification !== undefined) split.notify.push(Math.max(0, notification - change.committedMs));
    const produced = producedAt.get(change.id);
    if (produced === undefined) continue;
    split.relay.push(Math.max(0, produced - change.committedMs));
    split.consumer.push(Math.max(0, change.syncedMs - produced));
  }
  return split;
}

const quantiles = (values: number[]) => ({ p50: percentile(values, 50), p99: percentile(values, 99) });

/** The quiet changes of one phase of the import: how many, their latency, and its relay and consumer parts. */
const phaseSummary = (split: ReturnType<typeof splitLatencies>) => ({
  changes: split.total.length,
  ...quantiles(split.total),
  relay: quantiles(split.relay),
  consumer: quantiles(split.consumer),
});

const phaseRow = (label: string, { changes, p50, p99, relay, consumer }: ReturnType<typeof phaseSummary>) =>
  `| ${label} | ${changes} | ${p50} / ${p99} | ${relay.p50} / ${relay.p99} | ${consumer.p50} / ${consumer.p99} |`;

/** A `done` for `quietWrites` that lets exactly one write through. */
const onlyOnce = () => {
  let calls = 0;
  return () => calls++ > 0;
};

const progress = (line: string) => process.stderr.write(`[fairness-bench] ${line}\n`);
const rate = (n: number) => Math.round(n).toLocaleString('en-US');

async function main() {
  progress('starting PostgreSQL and Kafka (fresh databases and topics)');
  const { infra, stop } = await startTestInfrastructure();
  const source = postgres(infra.sourceAdminUrl, { max: 4, onnotice: () => {} });
  // The quiet tenant writes as the source app does: as source_app, its tenant set for the
  // transaction, so row-level security and the outbox trigger see what they see in production.
  const quietSource = postgres(infra.sourceAppUrl, { max: 1, onnotice: () => {} });
  const copy = postgres(infra.consumerAdminUrl, { max: 2, onnotice: () => {} });
  const kafka = createKafka({ brokers: infra.brokers, clientId: 'fairness-bench', logger: pino({ level: 'error' }) });
  const apps: AppProcess[] = [];
  // When each notification of a commit to the outbox (its trigger's channel, migration 005)
  // reached this process: the relay's wake-up path.
  const notified: number[] = [];
  const listener = postgres(infra.sourceAdminUrl, { max: 1, onnotice: () => {} });

  /** The quiet users `written`, each with when it was committed to the copy (ms), once all are there. */
  const quietChanges = async (written: QuietWrite[]): Promise<QuietChange[]> => {
    const byId = new Map(written.map((write) => [write.id, write]));
    for (;;) {
      const synced = await copy`SELECT id, extract(epoch FROM synced_at) * 1000 AS ms FROM synced_users WHERE org_id = ${quiet.id} AND id = ANY(${[...byId.keys()]})`;
      if (synced.length === byId.size) return synced.map((row) => ({ ...byId.get(row.id as string)!, syncedMs: Number(row.ms) }));
      await sleep(100);
    }
  };
  /** Writes one quiet user every QUIET_EVERY_MS until `done()`; resolves with what it wrote. */
  const quietWrites = async (done: () => boolean): Promise<QuietWrite[]> => {
    const written: QuietWrite[] = [];
    while (!done()) {
      const sentMs = Date.now();
      const id = await quietSource.begin(async (tx) => {
        await tx`SELECT set_config('app.current_tenant', ${quiet.id}, true)`;
        const [row] = await tx`INSERT INTO users (org_id, name, email) VALUES (${quiet.id}, 'Quiet', ${`quiet${sentMs}-${written.length}@fair.test`}) RETURNING id`;
        return row!.id as string;
      });
      written.push({ id, sentMs, committedMs: Date.now() });
      await sleep(QUIET_EVERY_MS);
    }
    return written;
  };
  const importedCount = async () => (await copy`SELECT count(*)::int AS n FROM synced_users WHERE org_id = ${importer.id}`)[0]!.n as number;
  /**
   * Imports IMPORT users in one transaction; resolves with users/s until the copy holds them
   * all, and when its COMMIT returned: until then its rows sat uncommitted in the outbox.
   */
  const importAndDrain = async (round: number) => {
    const before = await importedCount();
    const started = Date.now();
    await source.unsafe(`
      INSERT INTO users (org_id, name, email)
      SELECT '${importer.id}'::uuid, 'Imported ' || n, 'import${round}-' || n || '@fair.test' FROM generate_series(1, ${IMPORT}) n`);
    const committedMs = Date.now();
    const report = (n: number) => progress(`  ${rate(n - before)} of ${rate(IMPORT)} imported users synced`);
    const lastSynced = await waitForCount(copy, before + IMPORT, 600_000, report, importer.id);
    return { eps: IMPORT / ((lastSynced - started) / 1_000), openMs: committedMs - started, drainMs: Math.round(lastSynced - committedMs), committedMs };
  };

  try {
    await listener.listen('outbox_pending', () => void notified.push(Date.now()));
    const machine = await describeMachine(infra.adminUrl, infra.kafkaOrigin);
    const loadAtStart = loadavg()[0]!.toFixed(1);
    const topicTemplate = `fairness-bench-${Date.now()}-{type}`;
    const topic = eventTopic(topicTemplate, 'USER');
    await ensureTopics(kafka, [
      { topic, numPartitions: PARTITIONS },
      { topic: `${topic}.dlq`, numPartitions: 1 },
    ]);
    const { source: sourceApp, consumer } = await startApps(infra, topicTemplate);
    apps.push(sourceApp, consumer, await startRelay(infra, topicTemplate));

    // The first change after a start waits for the consumer to join its group and open its
    // connections: the running system is measured, not its start (a cold first change would
    // only inflate the idle p99 the target is a multiple of).
    await quietChanges(await quietWrites(onlyOnce()));

    progress(`quiet tenant alone: one user every ${QUIET_EVERY_MS} ms for ${IDLE_SECONDS} s`);
    const idleEnd = Date.now() + IDLE_SECONDS * 1_000;
    const idleChanges = await quietChanges(await quietWrites(() => Date.now() > idleEnd));

    await source.unsafe('VACUUM ANALYZE outbox, users');
    await copy.unsafe('VACUUM ANALYZE synced_users');
    progress(`import alone: ${rate(IMPORT)} users in one transaction`);
    const aloneStart = await phaseStart(apps);
    const { eps: aloneEps, openMs: aloneOpenMs, drainMs: aloneDrainMs } = await importAndDrain(1);
    const aloneUse = await phaseUse(aloneStart);

    // Both rounds start from the same tables: the first round's users are taken out of the
    // source and the copy without events (triggers off for that transaction), so the second
    // import does not write into tables twice the size it had for the first. And without dead
    // rows: this machine's PostgreSQL runs without autovacuum, and the first round leaves its
    // deleted outbox rows behind.
    await source.begin(async (tx) => {
      await tx`SET LOCAL session_replication_role = replica`;
      await tx`DELETE FROM users WHERE org_id = ${importer.id}`;
    });
    await copy`DELETE FROM synced_users WHERE org_id = ${importer.id}`;
    await source.unsafe('VACUUM ANALYZE outbox, users');
    await copy.unsafe('VACUUM ANALYZE synced_users');
    progress('import shared: the same import while the quiet tenant writes');
    let importing = true;
    const sharedStart = await phaseStart(apps);
    const quietDuring = quietWrites(() => !importing);
    const { eps: sharedEps, openMs: importOpenMs, drainMs: sharedDrainMs, committedMs: importCommittedMs } = await importAndDrain(2);
    importing = false;
    const sharedUse = await phaseUse(sharedStart);
    // The quiet changes committed before the import's last user reached the copy: the few
    // written while the drain's end was being noticed met a system with no import left.
    const duringChanges = (await quietChanges(await quietDuring)).filter((change) => change.committedMs <= importCommittedMs + sharedDrainMs);

    // When the relay produced each quiet change, off the topic (read after the runs, so the
    // reading takes nothing from them): it splits each latency into the relay's and the consumer's.
    const [written] = await source`SELECT count(*)::int AS n FROM users`;
    const producedAt = new Map(
      (await readTopic(infra.brokers, topic, written!.n as number, 120_000)).filter((message) => message.headers[EventHeaders.tenantId] === quiet.id).map((message) => [message.key, message.timestamp]),
    );
    const idle = splitLatencies(idleChanges, producedAt, notified);
    const during = splitLatencies(duringChanges, producedAt, notified);
    // The quiet changes committed while the import's transaction was still open, and after.
    const whileOpen = splitLatencies(
      duringChanges.filter((change) => change.committedMs < importCommittedMs),
      producedAt,
      notified,
    );
    const afterCommit = splitLatencies(
      duringChanges.filter((change) => change.committedMs >= importCommittedMs),
      producedAt,
      notified,
    );

    const result = {
      quiet_idle_p50_ms: percentile(idle.total, 50),
      quiet_idle_p99_ms: percentile(idle.total, 99),
      quiet_idle_max_ms: percentile(idle.total, 100),
      quiet_during_import_p50_ms: percentile(during.total, 50),
      quiet_during_import_p95_ms: percentile(during.total, 95),
      quiet_during_import_p99_ms: percentile(during.total, 99),
      quiet_during_import_max_ms: percentile(during.total, 100),
      import_eps_alone: Math.round(aloneEps),
      import_eps_shared: Math.round(sharedEps),
      quiet_relay_ms: { idle: quantiles(idle.relay), during_import: quantiles(during.relay) },
      quiet_consumer_ms: { idle: quantiles(idle.consumer), during_import: quantiles(during.consumer) },
      // The import's phases: its transaction open (its rows uncommitted in the outbox), then drained.
      import_open_ms: importOpenMs,
      import_phases_ms: { alone: { open: aloneOpenMs, drain: aloneDrainMs }, shared: { open: importOpenMs, drain: sharedDrainMs } },
      quiet_while_import_open_ms: phaseSummary(whileOpen),
      quiet_after_import_commit_ms: phaseSummary(afterCommit),
      // Before the latency starts: the quiet INSERT, sent → COMMIT returned (the source's write, which waits for the WAL flush).
      quiet_insert_ms: { idle: quantiles(idle.insert), during_import: quantiles(during.insert) },
      // Within the relay's part: COMMIT returned → the commit's NOTIFY at a listener of this process.
      quiet_notify_ms: { idle: quantiles(idle.notify), during_import: quantiles(during.notify) },
      alone_cores: aloneUse.cores,
      alone_gc_ms: aloneUse.gc,
      shared_cores: sharedUse.cores,
      shared_gc_ms: sharedUse.gc,
    };
    const errors = apps.flatMap((app) => app.logLines().filter((line) => Number(line.level) >= 50).map((line) => `${app.name}: ${line.msg ?? line.raw}`));
    const report = [
      `### Fairness: a quiet tenant during another tenant's import — ${new Date().toISOString().slice(0, 16).replace('T', ' ')} UTC`,
      '',
      `Machine: ${machine.cores} cores (${machine.cpu}), ${machine.memoryGiB} GiB; Node ${machine.node}, PostgreSQL ${machine.postgres}, Kafka ${machine.kafka}. ` +
        `Source, relay and consumer (one each, defaults), PostgreSQL, the broker and the load on this one machine; ${PARTITIONS} partitions. ` +
        `Load average at start ${loadAtStart}, at end ${loadavg()[0]!.toFixed(1)}.`,
      '',
      '| measure | result | target |',
      '|---|---|---|',
      `| quiet tenant, idle system: source COMMIT returned → consumer commit (${idle.total.length} changes) | p50 ${result.quiet_idle_p50_ms} ms · p99 ${result.quiet_idle_p99_ms} ms · max ${result.quiet_idle_max_ms} ms | — |`,
      `| quiet tenant during a ${rate(IMPORT)}-user import (${during.total.length} changes) | p50 ${result.quiet_during_import_p50_ms} ms · p95 ${result.quiet_during_import_p95_ms} ms · p99 ${result.quiet_during_import_p99_ms} ms · max ${result.quiet_during_import_max_ms} ms | p99 ≤ 3 × idle p99 and ≤ 500 ms |`,
      `| import alone → all in the copy | ${rate(aloneEps)} users/s | — |`,
      `| import with the quiet tenant writing | ${rate(sharedEps)} users/s (${Math.round((sharedEps / aloneEps) * 100)} % of alone) | ≥ 80 % |`,
      `| error log lines of the three apps | ${errors.length} | 0 |`,
      '',
      "The quiet tenant's latency split where the relay produced the message (the message's timestamp); within the relay's part, " +
        `COMMIT returned → its NOTIFY at a listener of the bench: idle p50 ${result.quiet_notify_ms.idle.p50} / p99 ${result.quiet_notify_ms.idle.p99} ms, ` +
        `during the import p50 ${result.quiet_notify_ms.during_import.p50} / p99 ${result.quiet_notify_ms.during_import.p99} ms:`,
      '',
      '| quiet tenant | before: its INSERT, sent → COMMIT returned, p50 / p99 ms | relay: COMMIT returned → produced, p50 / p99 ms | consumer: produced → copy commit, p50 / p99 ms |',
      '|---|---|---|---|',
      `| idle system | ${result.quiet_insert_ms.idle.p50} / ${result.quiet_insert_ms.idle.p99} | ${result.quiet_relay_ms.idle.p50} / ${result.quiet_relay_ms.idle.p99} | ${result.quiet_consumer_ms.idle.p50} / ${result.quiet_consumer_ms.idle.p99} |`,
      `| during the import | ${result.quiet_insert_ms.during_import.p50} / ${result.quiet_insert_ms.during_import.p99} | ${result.quiet_relay_ms.during_import.p50} / ${result.quiet_relay_ms.during_import.p99} | ${result.quiet_consumer_ms.during_import.p50} / ${result.quiet_consumer_ms.during_import.p99} |`,
      '',
      `The import's transaction was open for ${rate(importOpenMs)} ms (alone: ${rate(aloneOpenMs)} ms), its rows uncommitted in the outbox; its commit to its last user in the copy took ${rate(sharedDrainMs)} ms (alone: ${rate(aloneDrainMs)} ms). ` +
        "The quiet tenant's changes while it was open and after its commit:",
      '',
      '| quiet tenant | changes | COMMIT returned → copy commit, p50 / p99 ms | relay part, p50 / p99 ms | consumer part, p50 / p99 ms |',
      '|---|---|---|---|---|',
      phaseRow('import transaction open', result.quiet_while_import_open_ms),
      phaseRow('after its commit', result.quiet_after_import_commit_ms),
      '',
      ...phaseUseTable("Where the import's cores went alone, from its INSERT to its last user in the copy", aloneUse, machine.cores),
      '',
      ...phaseUseTable("Where the shared import's cores went, from its INSERT to its last user in the copy", sharedUse, machine.cores),
    ].join('\n');
    process.stdout.write(`\n${report}\n`);
    if (errors.length > 0) process.stdout.write(`${errors.slice(0, 10).join('\n')}\n`);
    if (process.env.BENCH_RECORD !== '0') await appendFile(path.join(workspaceRoot, 'BENCHMARKS.md'), `${report}\n`);
    process.stdout.write(`${JSON.stringify(result)}\n`);
  } finally {
    for (const app of apps.reverse()) await app.stop(10_000).catch(() => {});
    await listener.end({ timeout: 5 });
    await source.end();
    await quietSource.end();
    await copy.end();
    await stop();
  }
}

await main();
