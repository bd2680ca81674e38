import { readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { ConfigError, consoleConfigSchema, loadConsoleConfig, workspaceRoot } from '../src/index.ts';

describe('the console configuration', () => {
  it('defaults to the development ports, certificate and operator identity', () => {
    const config = loadConsoleConfig({ DATABASE_PASSWORD_FILE: '/nonexistent' });
    expect(config).toMatchObject({
      PUBLIC_HOST: '127.0.0.1',
      PUBLIC_PORT: 8003,
      OPS_PORT: 9104,
      SOURCE_PUBLIC_URL: 'https://localhost:8001',
      CONSUMER_PUBLIC_URL: 'https://localhost:8002',
      CONSOLE_OPERATORS: 'spiffe://tenant-sync.local/operator',
      CONSOLE_ENTITY_TYPES: 'USER,TEAM',
    });
    expect(config.TLS_CERT_FILE).toMatch(/certs\/console\.crt$/);
  });

  it('refuses operators that are not SPIFFE IDs, plain-HTTP APIs and malformed instances, all at once', () => {
    let caught: unknown;
    try {
      loadConsoleConfig({
        CONSOLE_OPERATORS: 'CN=operator',
        SOURCE_PUBLIC_URL: 'http://localhost:8001',
        CONSOLE_INSTANCES: 'source:9101',
        CONSOLE_ENTITY_TYPES: 'users',
        DATABASE_PASSWORD_FILE: '/nonexistent',
      });
    } catch (error) {
      caught = error;
    }
    expect(caught).toBeInstanceOf(ConfigError);
    expect((caught as ConfigError).problems.map((problem) => problem.split('=')[0])).toEqual(
      expect.arrayContaining(['CONSOLE_OPERATORS', 'SOURCE_PUBLIC_URL', 'CONSOLE_INSTANCES', 'CONSOLE_ENTITY_TYPES']),
    );
  });

  it('has a row in the README configuration table for every variable', () => {
    const readme = readFileSync(path.join(workspaceRoot, 'README.md'), 'utf8');
    expect(Object.keys(consoleConfigSchema.properties).filter((name) => !readme.includes(`| \`${name}\` |`))).toEqual([]);
  });
});
