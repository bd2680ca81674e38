import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { ConfigError, kafkaPropertyName, loadConsumerConfig, loadKafkaSecurity, loadOperatorConfig, loadRelayConfig } from '../src/index.ts';

describe('Kafka security settings', () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'kafka-security-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));
  const file = (name: string, content: string) => {
    const target = path.join(dir, name);
    writeFileSync(target, content, { mode: 0o600 });
    return target;
  };
  const secret = 'pa55-word/that:must+never=show';
  const problemsOf = (env: NodeJS.ProcessEnv): string[] => {
    try {
      loadKafkaSecurity(env);
    } catch (error) {
      if (error instanceof ConfigError) return [...error.problems];
      throw error;
    }
    return [];
  };

  it('is PLAINTEXT with no properties by default', () => {
    expect(loadKafkaSecurity({})).toMatchObject({ KAFKA_SECURITY_PROTOCOL: 'PLAINTEXT', KAFKA_SASL_MECHANISM: 'SCRAM-SHA-512', KAFKA_PROPERTIES: {} });
  });

  it('reads the SASL password from its file, for the relay, the consumer and the operator CLI alike', () => {
    const env = {
      KAFKA_SECURITY_PROTOCOL: 'SASL_SSL',
      KAFKA_SSL_CA_FILE: file('ca.crt', 'a CA'),
      KAFKA_SASL_USERNAME: 'relay',
      KAFKA_SASL_PASSWORD_FILE: file('relay.password', `${secret}\n`),
    };
    for (const load of [loadRelayConfig, loadConsumerConfig, loadOperatorConfig]) {
      const config = load(env);
      expect(config).toMatchObject({ KAFKA_SECURITY_PROTOCOL: 'SASL_SSL', KAFKA_SASL_USERNAME: 'relay', KAFKA_SASL_PASSWORD: secret });
      expect(Object.isFrozen(config)).toBe(true);
    }
    expect(loadKafkaSecurity({ ...env, KAFKA_SASL_PASSWORD_FILE: undefined, KAFKA_SASL_PASSWORD: secret }).KAFKA_SASL_PASSWORD).toBe(secret);
  });

  it('names every incomplete or contradictory setting at once, and never a password', () => {
    const problems = problemsOf({
      KAFKA_SECURITY_PROTOCOL: 'SASL_SSL',
      KAFKA_SSL_CERT_FILE: file('client.crt', 'a certificate'),
      KAFKA_SSL_CA_FILE: path.join(dir, 'absent.crt'),
      KAFKA_SASL_PASSWORD: secret,
      KAFKA_SASL_PASSWORD_FILE: file('also.password', secret),
    });
    expect(problems.join('\n')).toMatch(/KAFKA_SSL_CERT_FILE and KAFKA_SSL_KEY_FILE go together/);
    expect(problems.join('\n')).toMatch(/KAFKA_SSL_CA_FILE: no file at/);
    expect(problems.join('\n')).toMatch(/KAFKA_SASL_USERNAME is required/);
    expect(problems.join('\n')).toMatch(/KAFKA_SASL_PASSWORD and KAFKA_SASL_PASSWORD_FILE are both set/);
    expect(problems.join('\n')).not.toContain(secret);

    expect(problemsOf({ KAFKA_SECURITY_PROTOCOL: 'SASL_SSL', KAFKA_SASL_USERNAME: 'relay' })).toEqual([
      'KAFKA_SASL_PASSWORD_FILE (or KAFKA_SASL_PASSWORD) is required with KAFKA_SECURITY_PROTOCOL=SASL_SSL',
    ]);
    expect(problemsOf({ KAFKA_SECURITY_PROTOCOL: 'SASL_SSL', KAFKA_SASL_USERNAME: 'relay', KAFKA_SASL_PASSWORD_FILE: file('empty.password', '\n') })).toEqual([
      `KAFKA_SASL_PASSWORD_FILE: ${path.join(dir, 'empty.password')} is empty`,
    ]);
  });

  it('refuses credentials or certificates that the protocol would not use (PLAINTEXT would not protect them)', () => {
    expect(problemsOf({ KAFKA_SASL_USERNAME: 'relay', KAFKA_SASL_PASSWORD: secret, KAFKA_SSL_CA_FILE: 'ca.crt' })).toEqual([
      'KAFKA_SSL_CA_FILE is set, but KAFKA_SECURITY_PROTOCOL=PLAINTEXT does not use it',
      'KAFKA_SASL_USERNAME is set, but KAFKA_SECURITY_PROTOCOL=PLAINTEXT does not use it',
      'KAFKA_SASL_PASSWORD is set, but KAFKA_SECURITY_PROTOCOL=PLAINTEXT does not use it',
    ]);
    expect(problemsOf({ KAFKA_SECURITY_PROTOCOL: 'SSL', KAFKA_SASL_USERNAME: 'relay' })).toEqual(['KAFKA_SASL_USERNAME is set, but KAFKA_SECURITY_PROTOCOL=SSL does not use it']);
    expect(problemsOf({ KAFKA_SECURITY_PROTOCOL: 'SASL_PLAINTEXT' }).join('\n')).toMatch(/KAFKA_SECURITY_PROTOCOL="SASL_PLAINTEXT": must be one of PLAINTEXT, SSL, SASL_SSL/);
  });

  it('passes KAFKA_PROP_<name> through to librdkafka: `_` is `.`, `__` is `_`', () => {
    expect(kafkaPropertyName('KAFKA_PROP_SOCKET_KEEPALIVE_ENABLE')).toBe('socket.keepalive.enable');
    expect(kafkaPropertyName('KAFKA_PROP_LOG__LEVEL')).toBe('log_level');
    const config = loadKafkaSecurity({ KAFKA_PROP_SOCKET_KEEPALIVE_ENABLE: 'true', KAFKA_PROP_STATISTICS_INTERVAL_MS: '60000', KAFKA_PROP_CLIENT_RACK: 'eu-west-1a' });
    expect(config.KAFKA_PROPERTIES).toEqual({ 'socket.keepalive.enable': 'true', 'statistics.interval.ms': '60000', 'client.rack': 'eu-west-1a' });
  });

  it('keeps security out of the pass-through: no second way to set a credential, no switching a certificate check off', () => {
    const problems = problemsOf({
      KAFKA_PROP_SASL_PASSWORD: secret,
      KAFKA_PROP_SECURITY_PROTOCOL: 'plaintext',
      KAFKA_PROP_ENABLE_SSL_CERTIFICATE_VERIFICATION: 'false',
      KAFKA_PROP_SSL_ENDPOINT__IDENTIFICATION_ALGORITHM: 'none',
      KAFKA_PROP_SSL_ENDPOINT_IDENTIFICATION_ALGORITHM: 'none',
      KAFKA_PROP_BOOTSTRAP_SERVERS: 'evil:9092',
      KAFKA_PROP_socket_timeout_ms: '1',
    });
    expect(problems).toHaveLength(7);
    for (const variable of ['SASL_PASSWORD', 'SECURITY_PROTOCOL', 'ENABLE_SSL_CERTIFICATE_VERIFICATION', 'SSL_ENDPOINT_IDENTIFICATION_ALGORITHM', 'BOOTSTRAP_SERVERS', 'socket_timeout_ms']) {
      expect(problems.some((problem) => problem.startsWith(`KAFKA_PROP_${variable}:`))).toBe(true);
    }
    expect(problems.join('\n')).not.toContain(secret);
  });
});
