/**
 * What one Reference API call costs the source (`nx run source:bench`). The real source runs as
 * a child process on fresh databases; this process calls `POST /internal/sync/user/batch` over
 * mTLS as the consumer does, one call at a time, with 1, 100 and 1,000 ids. For each size it
 * prints the source's CPU time per call (user + system, from /proc: Linux only) and the call's
 * wall time, each the median of five passes, and ends with one JSON line.
 *
 * CPU per call is the figure to compare: at 500 changes/s the consumer makes one call for about
 * 1.5 changes, and the whole machine is busy (docs/consumer.md, "Measuring it"), so every
 * microsecond a call costs is a microsecond some other change waits for a core.
 */
import { readFileSync } from 'node:fs';
import { loadavg } from 'node:os';
import path from 'node:path';
import postgres from 'postgres';
import { Agent, request } from 'undici';
import { freePort } from '@tenant-sync/local-infra';
import { certsDir, describeMachine, readCpu, startApp, startTestInfrastructure, testTenants, type AppProcess } from '@tenant-sync/testing';

const SIZES = [1, 100, 1_000];
const CALLS: Record<number, number> = { 1: 2_000, 100: 500, 1_000: 100 };
const PASSES = 5;
const USERS = 2_000;

const progress = (line: string) => process.stderr.write(`[source-bench] ${line}\n`);
const read = (name: string) => readFileSync(path.join(certsDir, name));
const median = (values: number[]) => [...values].sort((x, y) => x - y)[Math.floor(values.length / 2)]!;

/** The CPU time (user + system) a process has used so far, in microseconds. */
const cpuMicros = (pid: number): number => readCpu({ process: pid }, []).seconds.process! * 1_000_000;

async function main() {
  progress('starting PostgreSQL and Kafka (fresh databases)');
  const { infra, stop } = await startTestInfrastructure();
  const admin = postgres(infra.sourceAdminUrl, { max: 1, onnotice: () => {} });
  const agent = new Agent({ connect: { ca: read('ca.crt'), cert: read('consumer-client.crt'), key: read('consumer-client.key') } });
  let source: AppProcess | undefined;
  try {
    const machine = await describeMachine(infra.adminUrl, infra.kafkaOrigin);
    const loadAtStart = loadavg()[0]!.toFixed(1);
    const tenant = testTenants.a.id;
    const ids = (
      await admin`INSERT INTO users (org_id, name, email) SELECT ${tenant}, 'User ' || n, 'user' || n || '@a.test' FROM generate_series(1, ${USERS}) n RETURNING id`
    ).map((row) => row.id as string);
    const internalPort = await freePort();
    source = await startApp('source', { SOURCE_DATABASE_URL: infra.sourceAppUrl, PUBLIC_PORT: String(await freePort()), INTERNAL_PORT: String(internalPort), LOG_LEVEL: 'warn' }, await freePort());
    const pid = source.child.pid!;

    const call = async (batch: string[]) => {
      const response = await request(`https://localhost:${internalPort}/internal/sync/user/batch`, {
        method: 'POST',
        dispatcher: agent,
        headers: { 'x-consumer-id': 'consumer', 'x-tenant-id': tenant, 'content-type': 'application/json' },
        body: JSON.stringify({ ids: batch }),
      });
      const body = (await response.body.json()) as { data: unknown[] };
      if (response.statusCode !== 200 || body.data.length !== batch.length) throw new Error(`the source answered ${response.statusCode} with ${body.data.length} of ${batch.length} users`);
    };
    /** `calls` calls of `size` ids each; the source's CPU and the wall time per call, in µs. */
    const pass = async (size: number, calls: number) => {
      const cpuBefore = cpuMicros(pid);
      const started = performance.now();
      for (let i = 0; i < calls; i++) {
        const from = (i * size) % (USERS - size + 1);
        await call(ids.slice(from, from + size));
      }
      return { cpu: (cpuMicros(pid) - cpuBefore) / calls, wall: ((performance.now() - started) * 1000) / calls };
    };

    const results: Record<string, { source_cpu_us: number; wall_us: number }> = {};
    for (const size of SIZES) {
      progress(`${size} ids per call: warming up, then ${PASSES} passes of ${CALLS[size]} calls`);
      await pass(size, Math.ceil(CALLS[size]! / 5));
      const passes = [];
      for (let i = 0; i < PASSES; i++) passes.push(await pass(size, CALLS[size]!));
      results[size] = { source_cpu_us: Math.round(median(passes.map((p) => p.cpu))), wall_us: Math.round(median(passes.map((p) => p.wall))) };
    }

    const loadAtEnd = loadavg()[0]!.toFixed(1);
    console.log(
      [
        `Machine: ${machine.cores} cores (${machine.cpu}), ${machine.memoryGiB} GiB; Node ${machine.node}, PostgreSQL ${machine.postgres}. Load average at start ${loadAtStart}, at end ${loadAtEnd}.`,
        '| ids per call | source CPU per call | wall time per call |',
        '|---|---|---|',
        ...SIZES.map((size) => `| ${size} | ${results[size]!.source_cpu_us} µs | ${results[size]!.wall_us} µs |`),
      ].join('\n'),
    );
    console.log(JSON.stringify({ bench: 'source', machine, load: [Number(loadAtStart), Number(loadAtEnd)], calls: results }));
  } finally {
    await source?.stop();
    await agent.close();
    await admin.end();
    await stop();
  }
}

await main();
