import { chmodSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { sql } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestCertificateAuthority, freePort, startEmbeddedPostgres, type RunningPostgres } from '@tenant-sync/local-infra';
import { connectPostgres, createDatabase, InvalidDatabaseUrlError, postgresTls } from '../src/index.ts';

// A PostgreSQL of its own with `ssl = on` and a certificate for `localhost` only, signed by a
// throw-away CA: the libpq parameters of a database URL decide what is verified.

const dir = mkdtempSync(path.join(tmpdir(), 'postgres-tls-'));
let server: RunningPostgres;
let port: number;
let caFile: string;
let otherCaFile: string;

const url = (host: string, query: string) => `postgres://postgres:postgres@${host}:${port}/postgres?${query}`;

/** Whether the session is encrypted, asked over a connection to `target`. */
async function sessionTls(target: string): Promise<boolean> {
  const client = connectPostgres(target, { max: 1, connect_timeout: 10, onnotice: () => {} });
  try {
    const [row] = await client<{ ssl: boolean }[]>`select ssl from pg_stat_ssl where pid = pg_backend_pid()`;
    return row?.ssl ?? false;
  } finally {
    await client.end({ timeout: 1 });
  }
}

describe('PostgreSQL TLS from the URL: sslmode, sslrootcert', () => {
  beforeAll(async () => {
    // The server runs as the postgres user, which must reach its data directory inside this one.
    chmodSync(dir, 0o755);
    const ca = createTestCertificateAuthority(dir);
    caFile = ca.caFile;
    otherCaFile = createTestCertificateAuthority(dir, 'other-ca').caFile;
    port = await freePort();
    server = await startEmbeddedPostgres({ dataDir: path.join(dir, 'data'), port, tls: ca.issue('postgres', ['DNS:localhost']) });
  }, 120_000);

  afterAll(async () => {
    await server?.stop();
    rmSync(dir, { recursive: true, force: true });
  }, 60_000);

  it('verify-full with the CA that signed the server and the host name it carries: an encrypted session', async () => {
    expect(await sessionTls(url('localhost', `sslmode=verify-full&sslrootcert=${caFile}`))).toBe(true);
  });

  it('the apps open their pools the same way (createDatabase)', async () => {
    const db = createDatabase({ url: url('localhost', `sslmode=verify-full&sslrootcert=${caFile}&application_name=tls-test`), poolSize: 1, applicationName: 'tls-test' });
    try {
      const { rows } = await sql<{ ssl: boolean }>`select ssl from pg_stat_ssl where pid = pg_backend_pid()`.execute(db);
      expect(rows[0]?.ssl).toBe(true);
    } finally {
      await db.destroy();
    }
  });

  it('refuses a server whose certificate another CA signed', async () => {
    await expect(sessionTls(url('localhost', `sslmode=verify-full&sslrootcert=${otherCaFile}`))).rejects.toThrow(/certificate/i);
    await expect(sessionTls(url('localhost', 'sslmode=verify-full&sslrootcert=system'))).rejects.toThrow(/certificate/i);
  });

  it('refuses a certificate that does not name the host connected to (verify-full), which verify-ca accepts', async () => {
    await expect(sessionTls(url('127.0.0.1', `sslmode=verify-full&sslrootcert=${caFile}`))).rejects.toThrow(/does not match|altnames/i);
    expect(await sessionTls(url('127.0.0.1', `sslmode=verify-ca&sslrootcert=${caFile}`))).toBe(true);
    // require with a root certificate checks the CA, as libpq does.
    await expect(sessionTls(url('localhost', `sslmode=require&sslrootcert=${otherCaFile}`))).rejects.toThrow(/certificate/i);
  });

  it('a CA alone means verify-full; no TLS parameter means no TLS', async () => {
    await expect(sessionTls(url('127.0.0.1', `sslrootcert=${caFile}`))).rejects.toThrow(/does not match|altnames/i);
    expect(await sessionTls(`postgres://postgres:postgres@localhost:${port}/postgres`)).toBe(false);
  });
});

describe('postgresTls', () => {
  it('takes the TLS parameters out of the URL and keeps the others', () => {
    const { url: stripped, ssl } = postgresTls('postgres://app@db:5432/source_db?sslmode=verify-full&sslrootcert=system&application_name=relay');
    expect(stripped).toBe('postgres://app@db:5432/source_db?application_name=relay');
    expect(ssl).toMatchObject({ rejectUnauthorized: true });
    expect(ssl).not.toHaveProperty('ca');
    expect(postgresTls('postgres://app@db/source_db?sslmode=require')).toEqual({ url: 'postgres://app@db/source_db', ssl: 'require' });
    expect(postgresTls('postgres://app@db/source_db')).toEqual({ url: 'postgres://app@db/source_db', ssl: false });
  });

  it('refuses what it cannot follow, before any connection', () => {
    expect(() => postgresTls('postgres://app@db/x?sslmode=verify_full')).toThrow(InvalidDatabaseUrlError);
    expect(() => postgresTls('postgres://app@db/x?sslmode=verify-full&sslrootcert=/no/such/ca.crt')).toThrow(/sslrootcert=\/no\/such\/ca.crt cannot be read/);
    expect(() => postgresTls(`postgres://app@db/x?sslmode=verify-full&sslcert=${__filename}`)).toThrow(/sslcert and sslkey go together/);
  });
});
