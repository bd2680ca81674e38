import { readdirSync } from 'node:fs';
import { cpus, totalmem } from 'node:os';
import postgres from 'postgres';
import { kafkaLibDir } from '@tenant-sync/local-infra';

/** What a benchmark ran on: figures mean little without it. */
export interface MachineSummary {
  cores: number;
  cpu: string;
  memoryGiB: number;
  node: string;
  postgres: string;
  kafka: string;
}

/** Reads the machine's cores, memory and the versions of Node, PostgreSQL and Kafka in use. */
export async function describeMachine(adminUrl: string, kafkaOrigin: string): Promise<MachineSummary> {
  const sql = postgres(adminUrl, { max: 1, onnotice: () => {} });
  const [row] = await sql<{ server_version: string }[]>`SHOW server_version`.finally(() => sql.end());
  const jar = safeList(kafkaLibDir).find((file) => /^kafka_2\.13-.*\.jar$/.test(file));
  return {
    cores: cpus().length,
    cpu: cpus()[0]?.model.trim() ?? 'unknown',
    memoryGiB: Math.round(totalmem() / 2 ** 30),
    node: process.version,
    postgres: row?.server_version.split(' ')[0] ?? 'unknown',
    kafka: `${jar?.replace(/^kafka_2\.13-|\.jar$/g, '') ?? 'unknown'} (${kafkaOrigin})`,
  };
}

function safeList(dir: string): string[] {
  try {
    return readdirSync(dir);
  } catch {
    return [];
  }
}
