// `npx nx run e2e:cluster` (node test/cluster.ts): tenant-sync on a three-node Kafka cluster,
// two of each app, under steady writes while a broker, a relay and a consumer are killed with
// SIGKILL. Progress goes to stderr; the last line on stdout is the result as JSON, and the exit
// code is 1 when a write was lost, applied out of order or dead-lettered. See docs/cluster.md.
import { spawn } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import pino from 'pino';
import postgres from 'postgres';
import { createKafka, type Admin } from '@tenant-sync/kafka';
import { describeTopicConfig, freePort, startKafkaCluster, waitFor, type KafkaClusterNode, type RunningKafkaCluster } from '@tenant-sync/local-infra';
import { readTopic, startApp, startTestInfrastructure, testTenants, type AppProcess, type TestInfrastructure } from '@tenant-sync/testing';
import { busRegressions, compareCopy, copyRegressions, deadLetterCount, entityStates, recordCopyWrites } from './cluster-checks.ts';
import { startLoad, trackWrites, type AckedWrite, type Load } from './cluster-load.ts';

const topic = 'user-events';
const groupId = 'cluster-consumers';
const writesPerSecond = 60;
/** How long each fault is watched before the next step; longer than any effect expected (a relay's 30 s lease). */
const faultWindowMs = 45_000;
const runDeadlineMs = 25 * 60_000;
const catchUpTimeoutMs = 180_000;

const startedAt = Date.now();
const log = (message: string, details?: object) =>
  console.error(`[cluster +${((Date.now() - startedAt) / 1000).toFixed(1)}s] ${message}${details ? ` ${JSON.stringify(details)}` : ''}`);

const cleanups: Array<() => Promise<unknown>> = [];
let cleaning: Promise<void> | undefined;
const cleanUp = () =>
  (cleaning ??= (async () => {
    for (const cleanup of cleanups.reverse()) await cleanup().catch((error: unknown) => log(`clean-up step failed: ${(error as Error).message}`));
  })());

const deadline = setTimeout(() => {
  log(`no result after ${runDeadlineMs / 60_000} min: giving up`);
  void cleanUp().finally(() => process.exit(1));
}, runDeadlineMs);
for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.once(signal, () => {
    log(`${signal}: cleaning up`);
    void cleanUp().finally(() => process.exit(130));
  });
}

let startedCluster: RunningKafkaCluster | undefined;
const tail = (file: string, lines: number) => (existsSync(file) ? readFileSync(file, 'utf8').trimEnd().split('\n').slice(-lines).join('\n') : '(none)');

const seconds = (ms: number) => Math.round(ms / 100) / 10;

interface Result {
  writes: number;
  lost: number;
  out_of_order: number;
  dead_letters: number;
  /** null: the lag did not fall back to normal within the 45 s window after that kill. */
  resume_s: { broker: number | null; relay: number | null; consumer: number | null };
}

async function run(): Promise<Result> {
  const dataDir = await mkdtemp(path.join(tmpdir(), 'tenant-sync-cluster-'));
  cleanups.push(() => rm(dataDir, { recursive: true, force: true }));

  log('starting a three-node KRaft cluster', { dataDir });
  const cluster: RunningKafkaCluster = await startKafkaCluster({ dataDir: path.join(dataDir, 'kafka') });
  startedCluster = cluster;
  cleanups.push(() => cluster.stop());
  const kafka = createKafka({ brokers: cluster.brokers, clientId: 'cluster-test', logger: pino({ level: 'silent' }) });
  const admin = kafka.admin();
  await admin.connect();
  cleanups.push(() => admin.disconnect());

  // The harness's databases (fresh, migrated, seeded) on the machine's PostgreSQL; its own
  // topic goes on this cluster.
  process.env.KAFKA_BROKERS = cluster.brokers;
  const { infra, stop: stopInfra }: { infra: TestInfrastructure; stop: () => Promise<void> } = await startTestInfrastructure();
  cleanups.push(stopInfra);
  const sourceAdmin = postgres(infra.sourceAdminUrl, { max: 2, onnotice: () => {} });
  const consumerAdmin = postgres(infra.consumerAdminUrl, { max: 2, onnotice: () => {} });
  cleanups.push(() => sourceAdmin.end(), () => consumerAdmin.end());
  await recordCopyWrites(consumerAdmin);
  await groupCoordinatorReady(cluster.brokers, infra.topic);

  const running = new Set<AppProcess>();
  cleanups.push(async () => {
    for (const app of running) await app.stop(5_000);
  });
  const kafkaEnv = { KAFKA_BROKERS: cluster.brokers, KAFKA_REPLICATION_FACTOR: '3', KAFKA_MIN_INSYNC_REPLICAS: '2', LOG_LEVEL: 'info' };
  const start = async (name: 'source' | 'relay' | 'consumer', env: Record<string, string>) => {
    const app = await startApp(name, env, await freePort());
    running.add(app);
    return app;
  };
  const kill = async (app: AppProcess) => {
    app.child.kill('SIGKILL');
    await app.stop(1_000);
    running.delete(app);
  };

  const sources: Array<{ public: number; internal: number }> = [];
  for (let index = 0; index < 2; index += 1) {
    const ports = { public: await freePort(), internal: await freePort() };
    await start('source', { SOURCE_DATABASE_URL: infra.sourceAppUrl, PUBLIC_PORT: String(ports.public), INTERNAL_PORT: String(ports.internal), LOG_LEVEL: 'warn' });
    sources.push(ports);
  }
  const startRelay = (id: string) => start('relay', { ...kafkaEnv, RELAY_DATABASE_URL: infra.relayAppUrl, RELAY_ID: id });
  const consumerPorts = [await freePort(), await freePort()];
  const startConsumer = (index: number) =>
    start('consumer', {
      ...kafkaEnv,
      CONSUMER_DATABASE_URL: infra.consumerAppUrl,
      KAFKA_GROUP_ID: groupId,
      SOURCE_INTERNAL_URL: `https://localhost:${sources[index]!.internal}`,
      PUBLIC_PORT: String(consumerPorts[index]),
      // Reconciliation would repair what the stream lost; the stream alone must not lose it.
      RECONCILE_INTERVAL_MS: '0',
    });
  const relays = [await startRelay('cluster-relay-1'), await startRelay('cluster-relay-2')];
  const consumers = [await startConsumer(0), await startConsumer(1)];
  log('two sources, two relays and two consumers are ready', { brokers: cluster.brokers });

  const layout = await topicLayout(admin);
  const minInsync = describeTopicConfig(cluster.brokers, topic)['min.insync.replicas'];
  log(`${topic}`, { partitions: layout.length, replicas: layout[0]?.replicas, minInsyncReplicas: minInsync });
  if (layout.some((partition) => partition.replicas.length !== 3) || minInsync !== '2') {
    throw new Error(`${topic} is not replicated 3 times with min.insync.replicas 2: nothing to measure`);
  }

  const load = await startLoad({
    sourcePorts: sources.map((ports) => ports.public),
    tenants: { [testTenants.a.id]: testTenants.a.admin, [testTenants.b.id]: testTenants.b.admin },
    writesPerSecond,
    concurrency: 12,
  });
  const tracking = trackWrites(sourceAdmin, consumerAdmin, load.writes);
  cleanups.push(() => load.stop(), () => tracking.stop());
  log(`writing up to ${writesPerSecond} changes a second through both sources`);
  await sleep(20_000);

  // The steady state before any fault: what a write's trip to the copy normally takes.
  const steadyFrom = Date.now();
  await sleep(15_000);
  const steady = await settle(load, steadyFrom, Date.now());
  const normalMs = Math.max(3_000, 1.5 * steady.worstMs);
  log('steady state', { writes_per_s: steady.writesPerSecond, p50_s: seconds(steady.p50Ms), worst_s: seconds(steady.worstMs), normal_lag_below_s: seconds(normalMs) });

  const faults: Record<string, FaultReport> = {};
  const observe = async (name: string, faultAt: number, details: Record<string, unknown> = {}) => {
    await sleep(Math.max(0, faultAt + faultWindowMs - Date.now()));
    faults[name] = { ...(await faultEffect(load, faultAt, normalMs)), ...details, errors_logged: errorsLogged([...running], faultAt, faultAt + faultWindowMs) };
    log(`${name}: the lag was back to normal ${faults[name].published_s} s after the kill at the outbox, ${faults[name].resume_s} s at the copy`, faults[name]);
  };

  // A broker, the one leading the most partitions of the events topic; back after the window.
  const victim = mostLeaders(cluster.nodes, await topicLayout(admin));
  log(`kill -9 broker ${victim.id}`);
  const brokerKilledAt = Date.now();
  await victim.kill();
  await observe('broker', brokerKilledAt, { node: victim.id });
  const restartedAt = Date.now();
  await victim.start();
  const listeningAt = Date.now();
  await waitFor('every replica of the events topic back in sync', async () => (await topicLayout(admin).catch(() => [{ isr: [] }])).every((partition) => partition.isr.length === 3), 180_000, 500);
  Object.assign(faults.broker!, { restart_s: seconds(listeningAt - restartedAt), back_in_sync_s: seconds(Date.now() - listeningAt) });
  log(`broker ${victim.id} listens ${faults.broker!.restart_s} s after its start, every replica in sync ${faults.broker!.back_in_sync_s} s later`);
  await sleep(10_000);

  // A relay while it holds leased outbox rows (mid-batch): those wait for their lease to expire.
  const leased = async () =>
    (await sourceAdmin<[{ count: number }]>`SELECT count(*)::int AS count FROM outbox WHERE lease_owner = 'cluster-relay-1' AND lease_until > now()`)[0].count;
  await waitFor('relay 1 to hold leased rows', async () => (await leased()) > 0, 30_000, 20).catch(() => log('relay 1 held no lease within 30 s'));
  log('kill -9 relay 1');
  const relayKilledAt = Date.now();
  await kill(relays[0]!);
  const orphans = (await sourceAdmin<Array<{ id: string }>>`SELECT id FROM outbox WHERE lease_owner = 'cluster-relay-1' AND lease_until > now()`).map((row) => row.id);
  let orphansPublishedAt: number | undefined;
  const orphansWatch = orphans.length === 0 ? Promise.resolve() : waitFor('the rows relay 1 leased to be published by the other relay', async () => {
    const [left] = await sourceAdmin<[{ count: number }]>`SELECT count(*)::int AS count FROM outbox WHERE id = ANY(${orphans}::bigint[])`;
    return left.count === 0;
  }, faultWindowMs + 30_000, 200).then(() => (orphansPublishedAt = Date.now()), (error: unknown) => log((error as Error).message));
  await observe('relay', relayKilledAt, { leased_rows_left: orphans.length });
  await orphansWatch;
  faults.relay!.leased_rows_published_s = orphansPublishedAt === undefined ? null : seconds(orphansPublishedAt - relayKilledAt);
  log(`the ${orphans.length} rows relay 1 held were published ${faults.relay!.leased_rows_published_s} s after its kill`);
  relays[0] = await startRelay('cluster-relay-1');
  await sleep(10_000);

  log('kill -9 consumer 1');
  const consumerKilledAt = Date.now();
  await kill(consumers[0]!);
  await observe('consumer', consumerKilledAt);
  consumers[0] = await startConsumer(0);
  log('consumer 1 is back in the group');
  await sleep(15_000);

  await load.stop();
  log(`load stopped: ${load.writes.length} writes acknowledged, ${load.failures.length} refused or failed`, { first_failures: load.failures.slice(0, 3) });
  await waitFor('every acknowledged write in the copy', async () => tracking.invisible() === 0, catchUpTimeoutMs, 500).catch((error: unknown) =>
    log((error as Error).message),
  );
  await tracking.stop();

  const states = await entityStates(sourceAdmin, consumerAdmin);
  const copy = compareCopy(load.writes, load.entities, states);
  const copyOrder = await copyRegressions(consumerAdmin);
  const busOrder = await busRegressions(admin, cluster.brokers, topic);
  const deadLetters = await deadLetterCount(admin);
  log('details', { copy, copyOrder, busOrder, faults, entities: load.entities.size, failed_requests: load.failures.length });

  const outOfOrder = copyOrder.backwards + busOrder.backwards + busOrder.splitKeys;
  const result: Result = {
    writes: load.writes.length,
    lost: copy.lost,
    out_of_order: outOfOrder,
    dead_letters: deadLetters,
    resume_s: { broker: faults.broker!.resume_s, relay: faults.relay!.resume_s, consumer: faults.consumer!.resume_s },
  };
  return result;
}

/**
 * Waits until a new cluster can serve consumer groups. Until the first group request has made
 * `__consumer_offsets` and its coordinators are loaded, `admin.describeGroups` — the consumer's
 * start-up check (brokersAnswer) — gets an error that @confluentinc/kafka-javascript turns into
 * a segmentation fault (confluentinc/confluent-kafka-javascript#531). So a reader joins a group
 * first, then the same check runs in child processes until one passes.
 */
async function groupCoordinatorReady(brokers: string, anyTopic: string): Promise<void> {
  await readTopic(brokers, anyTopic, 1, 3_000);
  const check = `import { brokersAnswer } from '@tenant-sync/kafka'; await brokersAnswer(${JSON.stringify(brokers)}, { group: ${JSON.stringify(groupId)} })();`;
  const passes = () =>
    new Promise<boolean>((resolve) => {
      const child = spawn(process.execPath, ['--input-type=module', '-e', check], { cwd: import.meta.dirname, stdio: 'ignore', timeout: 30_000 });
      child.once('exit', (code, signal) => {
        if (signal) log(`the group check ended with ${signal}; trying again`);
        resolve(code === 0);
      });
    });
  await waitFor(`the coordinator of group ${groupId}`, passes, 120_000, 1_000);
}

/** Partitions of the events topic: leader, replicas and in-sync replicas. */
async function topicLayout(admin: Admin) {
  const [metadata] = await admin.fetchTopicMetadata({ topics: [topic], timeout: 10_000 });
  return (metadata?.partitions ?? []).map(({ partitionId, leader, replicas, isr }) => ({ partitionId, leader, replicas, isr }));
}

function mostLeaders(nodes: KafkaClusterNode[], layout: Array<{ leader: number }>): KafkaClusterNode {
  const led = (node: KafkaClusterNode) => layout.filter((partition) => partition.leader === node.id).length;
  return nodes.reduce((most, node) => (led(node) > led(most) ? node : most));
}

/** Per app, the error lines logged in [from, to): how many, the first message and when the last came (s after `from`). */
function errorsLogged(apps: AppProcess[], from: number, to: number): Record<string, { count: number; first: string; last_s: number }> {
  const summary: Record<string, { count: number; first: string; last_s: number }> = {};
  for (const app of apps) {
    for (const line of app.logLines()) {
      const at = Date.parse(String(line.time));
      if (Number(line.level) < 50 || !(at >= from && at < to)) continue;
      const entry = (summary[app.name] ??= { count: 0, first: String(line.msg ?? '').slice(0, 160), last_s: 0 });
      entry.count += 1;
      entry.last_s = Math.max(entry.last_s, seconds(at - from));
    }
  }
  return summary;
}

const percentile = (values: number[], share: number) => [...values].sort((a, b) => a - b)[Math.min(values.length - 1, Math.floor(values.length * share))] ?? 0;

/** Waits until every write acknowledged before `to` is in the copy (bounded); the writes of [from, to). */
async function settle(load: Load, from: number, to: number): Promise<{ writes: AckedWrite[]; writesPerSecond: number; p50Ms: number; worstMs: number }> {
  const before = load.writes.filter((write) => write.ackedAt < to);
  await waitFor(`the writes acknowledged before +${seconds(to - startedAt)} s in the copy`, async () => before.every((write) => write.visibleAt), catchUpTimeoutMs, 100).catch(
    (error: unknown) => log((error as Error).message),
  );
  const writes = before.filter((write) => write.ackedAt >= from);
  const latencies = writes.filter((write) => write.visibleAt).map((write) => write.visibleAt! - write.ackedAt);
  return { writes, writesPerSecond: Math.round(writes.length / ((to - from) / 1000)), p50Ms: percentile(latencies, 0.5), worstMs: Math.max(0, ...latencies) };
}

interface FaultReport {
  /** From the kill until the copy's lag was back to normal; null if it was not within the window. */
  resume_s: number | null;
  /** The same for the outbox: until the relays' lag was back to normal. */
  published_s: number | null;
  /** The highest lag of the copy in the window. */
  peak_lag_s: number;
  [detail: string]: unknown;
}

const sampleMs = 100;

/**
 * The lag at each moment of [from, to): the age of the oldest acknowledged write that had not
 * reached the stage (`publishedAt` or `visibleAt`) yet, 0 when none was waiting.
 */
function lagSeries(writes: AckedWrite[], stage: 'publishedAt' | 'visibleAt', from: number, to: number): number[] {
  const series: number[] = [];
  for (let t = from; t < to; t += sampleMs) {
    let lag = 0;
    for (const write of writes) if (write.ackedAt <= t && (write[stage] ?? Infinity) > t) lag = Math.max(lag, t - write.ackedAt);
    series.push(lag);
  }
  return series;
}

/**
 * How long after the kill the pipeline resumed, from the lag series of the window: the first
 * rise above `normalMs` that starts within 15 s of the kill is the fault's, and it resumed when
 * the lag fell back under `normalMs`. Without such a rise it resumed when the writes in flight
 * at the kill had arrived (`inFlightMs`).
 */
function resumedAfter(series: number[], normalMs: number, inFlightMs: number | null): number | null {
  const rise = series.findIndex((lag, index) => lag > normalMs && index * sampleMs <= 15_000);
  if (rise === -1) return inFlightMs;
  const back = series.findIndex((lag, index) => index > rise && lag <= normalMs);
  return back === -1 ? null : back * sampleMs;
}

/** From `faultAt` until every write acknowledged before it had reached the stage; null if one never did. */
function inFlightCleared(writes: AckedWrite[], stage: 'publishedAt' | 'visibleAt', faultAt: number): number | null {
  const inFlight = writes.filter((write) => write.ackedAt <= faultAt);
  if (inFlight.some((write) => write[stage] === undefined)) return null;
  return Math.max(0, ...inFlight.map((write) => write[stage]! - faultAt));
}

/** Waits until the writes of the window after `faultAt` are in the copy (bounded), then measures how the fault delayed them. */
async function faultEffect(load: Load, faultAt: number, normalMs: number): Promise<FaultReport> {
  const { writes } = await settle(load, faultAt - 60_000, faultAt + faultWindowMs);
  const copyLag = lagSeries(writes, 'visibleAt', faultAt, faultAt + faultWindowMs);
  const outboxLag = lagSeries(writes, 'publishedAt', faultAt, faultAt + faultWindowMs);
  const resumed = resumedAfter(copyLag, normalMs, inFlightCleared(writes, 'visibleAt', faultAt));
  const published = resumedAfter(outboxLag, normalMs, inFlightCleared(writes, 'publishedAt', faultAt));
  return {
    resume_s: resumed === null ? null : seconds(resumed),
    published_s: published === null ? null : seconds(published),
    peak_lag_s: seconds(Math.max(0, ...copyLag)),
  };
}

const result = await run().catch((error: unknown) => {
  log(`failed: ${(error as Error).stack ?? String(error)}`);
  for (const node of startedCluster?.nodes ?? []) log(`node ${node.id} log, last lines:\n${tail(node.logFile, 8)}`);
  return { error: (error as Error).message };
});
await cleanUp();
clearTimeout(deadline);
console.log(JSON.stringify(result));
const passed = 'writes' in result && result.writes > 0 && result.lost === 0 && result.out_of_order === 0 && result.dead_letters === 0;
process.exit(passed ? 0 : 1);
