import { spawn } from 'node:child_process';
import path from 'node:path';
import { workspaceRoot } from '@tenant-sync/local-infra';

/**
 * The Debezium anchor (`../shared/anchors/debezium`, its README): Debezium 3.6.1 publishing
 * the same outbox, on its own PostgreSQL cluster and broker. The relay bench measures the relay
 * on that same cluster and broker, one tool after the other, so the two figures share the
 * database, the broker, the disk and the machine's load. Nothing of it is in this repository:
 * its scripts download their own jars into their state directory (/tmp/dbz-anchor).
 */
const anchorDir = path.resolve(workspaceRoot, process.env.BENCH_ANCHOR_DIR ?? '../shared/anchors/debezium');

/** Where the anchor's PostgreSQL and broker listen (its bin/env.sh defaults, or the same overrides). */
export const anchorInfrastructure = {
  adminUrl: `postgres://postgres@127.0.0.1:${process.env.PG_PORT ?? '5433'}/postgres`,
  brokers: `127.0.0.1:${process.env.KAFKA_PORT ?? '19092'}`,
};

/** The last line of the anchor's `bin/run.sh` (the fields the comparison reads). */
export interface DebeziumResult {
  tool: string;
  drain_eps: number;
  p50_ms: number;
  p95_ms: number;
  p99_ms: number;
  max_ms: number;
  steady_offered_eps: number;
  [field: string]: unknown;
}

function runScript(script: string, env: Record<string, string>, timeoutMs: number): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn(path.join(anchorDir, 'bin', script), [], {
      cwd: workspaceRoot,
      env: { ...process.env, PROJECT_DIR: workspaceRoot, ...env },
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    let stdout = '';
    child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
    const timer = setTimeout(() => child.kill('SIGTERM'), timeoutMs);
    child.once('error', reject);
    child.once('exit', (code, signal) => {
      clearTimeout(timer);
      if (code === 0) resolve(stdout);
      else reject(new Error(`${script} ended with ${signal ?? code} (its progress is above)`));
    });
  });
}

/** Jars, PostgreSQL on 5433 and the broker on 19092; quick when they are already there and up. */
export async function prepareAnchor(): Promise<void> {
  await runScript('setup.sh', {}, 15 * 60_000);
}

/** Debezium's drain of `rows` and its steady `rate` events/s for `seconds`, as the relay bench's. */
export async function runDebezium(rows: number, rate: number, seconds: number): Promise<DebeziumResult> {
  const stdout = await runScript('run.sh', { N: String(rows), RATE: String(rate), SECONDS: String(seconds) }, 30 * 60_000);
  const last = stdout.trim().split('\n').at(-1) ?? '';
  const result = JSON.parse(last) as DebeziumResult;
  if (typeof result.drain_eps !== 'number' || typeof result.p99_ms !== 'number') throw new Error(`unexpected anchor result: ${last}`);
  return result;
}
