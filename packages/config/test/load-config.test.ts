import { readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import {
  ConfigError,
  consumerConfigSchema,
  loadRelayConfig,
  loadSourceConfig,
  operatorConfigSchema,
  relayConfigSchema,
  sourceConfigSchema,
  workspaceRoot,
} from '../src/index.ts';

describe('loadConfig', () => {
  it('applies defaults and converts numbers', () => {
    const config = loadRelayConfig({ RELAY_BATCH_SIZE: '250' });
    expect(config.RELAY_BATCH_SIZE).toBe(250);
    expect(config.KAFKA_TOPIC_TEMPLATE).toBe('{type}-events');
    expect(config.OPS_PORT).toBe(9102);
    expect(Object.isFrozen(config)).toBe(true);
  });

  it('refuses a topic template that would name every type\'s topic alike or a topic Kafka cannot hold', () => {
    expect(() => loadRelayConfig({ KAFKA_TOPIC_TEMPLATE: 'events' })).toThrow(/KAFKA_TOPIC_TEMPLATE/);
    expect(() => loadRelayConfig({ KAFKA_TOPIC_TEMPLATE: '{type}/events' })).toThrow(/KAFKA_TOPIC_TEMPLATE/);
    expect(loadRelayConfig({ KAFKA_TOPIC_TEMPLATE: 'prod.{type}.events' }).KAFKA_TOPIC_TEMPLATE).toBe('prod.{type}.events');
  });

  it('names every bad variable in one error', () => {
    let caught: unknown;
    try {
      loadSourceConfig({ PUBLIC_PORT: 'eighty', SOURCE_DATABASE_URL: 'mysql://x', LOG_LEVEL: 'loud' });
    } catch (error) {
      caught = error;
    }
    expect(caught).toBeInstanceOf(ConfigError);
    const problems = (caught as ConfigError).problems.join('\n');
    expect(problems).toContain('PUBLIC_PORT');
    expect(problems).toContain('SOURCE_DATABASE_URL');
    expect(problems).toContain('LOG_LEVEL');
  });

  it('refuses a relay poll interval of a second or more', () => {
    expect(() => loadRelayConfig({ RELAY_POLL_INTERVAL_MS: '1000' })).toThrow(/RELAY_POLL_INTERVAL_MS/);
  });
});

describe('the README configuration table', () => {
  it('lists every variable of every schema', () => {
    const readme = readFileSync(path.join(workspaceRoot, 'README.md'), 'utf8');
    const schemas = [sourceConfigSchema, relayConfigSchema, consumerConfigSchema, operatorConfigSchema];
    const missing = schemas.flatMap((schema) => Object.keys(schema.properties)).filter((name) => !readme.includes(`| \`${name}\` |`));
    expect(missing).toEqual([]);
  });
});
