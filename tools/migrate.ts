// Creates the roles and databases and applies the migrations: schema only, under an advisory
// lock, refusing an applied file that changed. Development data is `npm run seed`'s job.
import { developmentPasswords } from '@tenant-sync/config';
import { APP_ROLES, provisionDatabases } from '@tenant-sync/migrations';
import { withAdminDatabase } from './admin-database.ts';

await withAdminDatabase(async (adminUrl) => {
  // Random passwords, kept in git-ignored files the apps read by default (DATABASE_PASSWORD_FILE).
  const passwords = developmentPasswords(Object.values(APP_ROLES));
  await provisionDatabases({ adminUrl, sourceDatabase: 'source_db', consumerDatabase: 'consumer_db', passwords, log: console.log });
  console.log('databases source_db and consumer_db are ready');
});
