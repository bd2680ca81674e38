// The superuser connection the setup tools work with: DATABASE_ADMIN_URL when set; otherwise
// the local server on 127.0.0.1:5432, or, when none answers, an embedded PostgreSQL under
// .local/postgres, started for the work and stopped after it.
import path from 'node:path';
import { canConnect, localDir, startEmbeddedPostgres, type RunningPostgres } from '@tenant-sync/local-infra';

const defaultAdminUrl = 'postgres://postgres@127.0.0.1:5432/postgres';

/** Runs `work` with a superuser URL of the development PostgreSQL. */
export async function withAdminDatabase<T>(work: (adminUrl: string) => Promise<T>): Promise<T> {
  let adminUrl = process.env.DATABASE_ADMIN_URL ?? defaultAdminUrl;
  let embedded: RunningPostgres | undefined;
  if (!(await canConnect(adminUrl))) {
    if (process.env.DATABASE_ADMIN_URL) throw new Error('cannot connect to DATABASE_ADMIN_URL');
    console.log('no PostgreSQL on 127.0.0.1:5432: starting the embedded server');
    embedded = await startEmbeddedPostgres({ dataDir: path.join(localDir, 'postgres'), port: 5432 });
    adminUrl = embedded.adminUrl;
  }
  try {
    return await work(adminUrl);
  } finally {
    await embedded?.stop();
  }
}
