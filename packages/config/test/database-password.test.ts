import { mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { ConfigError, developmentPasswords, loadRelayConfig } from '../src/index.ts';

describe('database passwords', () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'db-password-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));
  const file = (name: string, content: string) => {
    const target = path.join(dir, name);
    writeFileSync(target, content, { mode: 0o600 });
    return target;
  };

  it('completes a URL without a password from DATABASE_PASSWORD_FILE', () => {
    const config = loadRelayConfig({ RELAY_DATABASE_URL: 'postgres://relay_app@db:5432/source_db', DATABASE_PASSWORD_FILE: file('relay', 's3cret/with:odd@chars\n') });
    const url = new URL(config.RELAY_DATABASE_URL);
    expect(decodeURIComponent(url.password)).toBe('s3cret/with:odd@chars');
    expect(url.username).toBe('relay_app');
  });

  it('keeps the password of the URL, and leaves a URL without one alone when there is no file', () => {
    expect(loadRelayConfig({ RELAY_DATABASE_URL: 'postgres://relay_app:given@db/source_db', DATABASE_PASSWORD_FILE: file('other', 'ignored') }).RELAY_DATABASE_URL).toBe(
      'postgres://relay_app:given@db/source_db',
    );
    expect(loadRelayConfig({ RELAY_DATABASE_URL: 'postgres://relay_app@db/source_db', DATABASE_PASSWORD_FILE: path.join(dir, 'absent') }).RELAY_DATABASE_URL).toBe(
      'postgres://relay_app@db/source_db',
    );
  });

  it('refuses to start with the role name as its password, in the URL or in the file', () => {
    const inUrl = { RELAY_DATABASE_URL: 'postgres://relay_app:relay_app@db/source_db' };
    const inFile = { RELAY_DATABASE_URL: 'postgres://relay_app@db/source_db', DATABASE_PASSWORD_FILE: file('default', 'relay_app\n') };
    for (const env of [inUrl, inFile]) {
      expect(() => loadRelayConfig(env)).toThrow(ConfigError);
      expect(() => loadRelayConfig(env)).toThrow(/well-known default/);
    }
  });

  it('keeps the development password of a role, random and readable by its owner only', () => {
    const passwords = developmentPasswords(['relay_app']);
    expect(passwords.relay_app).toMatch(/^[\w-]{43}$/);
    expect(developmentPasswords(['relay_app']).relay_app).toBe(passwords.relay_app);
    const stat = statSync(path.resolve(import.meta.dirname, '../../../.local/secrets/relay_app.password'));
    expect((stat.mode & 0o777).toString(8)).toBe('600');
  });
});
