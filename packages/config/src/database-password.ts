import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { Type } from 'typebox';
import { ConfigError } from './errors.ts';
import { workspaceRoot } from './fields.ts';

/** Where setup keeps the generated development password of a database role (git-ignored, mode 0600). */
export const developmentPasswordFile = (role: string) => path.join(workspaceRoot, '.local', 'secrets', `${role}.password`);

/** The file that holds the password of an app's database role, used when its URL carries none. */
export const databasePasswordFile = (role: string) => ({
  DATABASE_PASSWORD_FILE: Type.String({ minLength: 1, default: developmentPasswordFile(role) }),
});

/**
 * `config` with `urlKey`'s URL completed by the password in `DATABASE_PASSWORD_FILE` when the
 * URL has none and the file exists (a URL without either uses the server's other means: peer,
 * trust or certificate). A password equal to the role's name — the well-known default of
 * earlier versions — is refused, wherever it comes from.
 */
export function withDatabasePassword<T extends { DATABASE_PASSWORD_FILE: string }, K extends keyof T & string>(config: Readonly<T>, urlKey: K): Readonly<T> {
  const url = new URL(config[urlKey] as string);
  if (!url.password && existsSync(config.DATABASE_PASSWORD_FILE)) {
    url.password = readFileSync(config.DATABASE_PASSWORD_FILE, 'utf8').trim();
  }
  const role = decodeURIComponent(url.username);
  if (url.password && decodeURIComponent(url.password) === role) {
    throw new ConfigError([`${urlKey}: the password of ${role} is its own name, a well-known default; set a real one (run npm run setup for development)`]);
  }
  return Object.freeze({ ...config, [urlKey]: url.toString() });
}

/**
 * The development password of each role: read from its file under `.local/secrets`, or made
 * (random, 32 bytes) and written there with mode 0600 the first time. For setup and the test
 * harness; production passwords come from the URL or DATABASE_PASSWORD_FILE.
 */
export function developmentPasswords<R extends string>(roles: readonly R[]): Record<R, string> {
  const passwords = {} as Record<R, string>;
  for (const role of roles) {
    const file = developmentPasswordFile(role);
    if (!existsSync(file)) {
      mkdirSync(path.dirname(file), { recursive: true, mode: 0o700 });
      writeFileSync(file, `${randomBytes(32).toString('base64url')}\n`, { mode: 0o600, flag: 'wx' });
    }
    passwords[role] = readFileSync(file, 'utf8').trim();
  }
  return passwords;
}
