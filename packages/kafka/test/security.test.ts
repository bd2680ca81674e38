import { describe, expect, it } from 'vitest';
import { aclCommandArgs, kafkaSecurityOf, securityProperties, tenantSyncAcls } from '../src/index.ts';

const base = { KAFKA_SASL_MECHANISM: 'SCRAM-SHA-512' as const, KAFKA_PROPERTIES: {} };

describe('securityProperties', () => {
  it('turns the settings into librdkafka properties, the host name always checked with TLS', () => {
    expect(securityProperties(undefined)).toEqual({});
    expect(securityProperties({ ...base, KAFKA_SECURITY_PROTOCOL: 'PLAINTEXT', KAFKA_PROPERTIES: { 'client.rack': 'a' } })).toEqual({ 'security.protocol': 'plaintext', 'client.rack': 'a' });
    expect(
      securityProperties({ ...base, KAFKA_SECURITY_PROTOCOL: 'SSL', KAFKA_SSL_CA_FILE: '/ca.crt', KAFKA_SSL_CERT_FILE: '/client.crt', KAFKA_SSL_KEY_FILE: '/client.key' }),
    ).toEqual({
      'security.protocol': 'ssl',
      'ssl.endpoint.identification.algorithm': 'https',
      'ssl.ca.location': '/ca.crt',
      'ssl.certificate.location': '/client.crt',
      'ssl.key.location': '/client.key',
    });
    expect(securityProperties({ ...base, KAFKA_SECURITY_PROTOCOL: 'SASL_SSL', KAFKA_SASL_USERNAME: 'relay', KAFKA_SASL_PASSWORD: 'secret' })).toEqual({
      'security.protocol': 'sasl_ssl',
      'ssl.endpoint.identification.algorithm': 'https',
      'sasl.mechanism': 'SCRAM-SHA-512',
      'sasl.username': 'relay',
      'sasl.password': 'secret',
    });
  });

  it('lets no pass-through property override a security setting', () => {
    const properties = securityProperties({ ...base, KAFKA_SECURITY_PROTOCOL: 'SSL', KAFKA_PROPERTIES: { 'security.protocol': 'plaintext', 'ssl.endpoint.identification.algorithm': 'none' } });
    expect(properties).toMatchObject({ 'security.protocol': 'ssl', 'ssl.endpoint.identification.algorithm': 'https' });
  });
});

describe('kafkaSecurityOf', () => {
  it("keeps an app's Kafka security settings and drops the rest of its configuration", () => {
    const config = { ...base, KAFKA_SECURITY_PROTOCOL: 'SSL' as const, KAFKA_SSL_CA_FILE: '/ca.crt', RELAY_DATABASE_URL: 'postgres://relay:secret@db/source', KAFKA_BROKERS: 'kafka:9093' };
    expect(kafkaSecurityOf(config)).toEqual({ ...base, KAFKA_SECURITY_PROTOCOL: 'SSL', KAFKA_SSL_CA_FILE: '/ca.crt' });
    expect(JSON.stringify(kafkaSecurityOf(config))).not.toContain('secret@db');
  });
});

describe('tenantSyncAcls', () => {
  const rules = tenantSyncAcls({ principals: { relay: 'User:relay', consumer: 'User:consumer', operator: 'User:operator' }, eventTopics: ['user-events', 'team-events'], consumerGroup: 'tenant-sync-consumer' });
  const allowed = (principal: string, operation: string, resource: string, name: string) =>
    rules.some((rule) => rule.principal === principal && rule.resource === resource && rule.operations.includes(operation as never) && rule.names.some((ruleName) => (rule.pattern === 'literal' ? ruleName === name : name.startsWith(ruleName))));

  it('gives each principal its job and nothing else', () => {
    expect(allowed('User:relay', 'Write', 'topic', 'team-events')).toBe(true);
    expect(allowed('User:relay', 'Read', 'topic', 'user-events')).toBe(false);
    expect(allowed('User:relay', 'Write', 'topic', 'user-events.dlq')).toBe(false);
    expect(allowed('User:relay', 'Describe', 'group', 'tenant-sync-consumer')).toBe(true);
    expect(allowed('User:relay', 'Read', 'group', 'tenant-sync-consumer')).toBe(false);
    expect(allowed('User:consumer', 'Read', 'topic', 'user-events')).toBe(true);
    expect(allowed('User:consumer', 'Write', 'topic', 'user-events')).toBe(false);
    expect(allowed('User:consumer', 'Write', 'topic', 'team-events.dlq')).toBe(true);
    expect(allowed('User:consumer', 'Read', 'group', 'tenant-sync-consumer')).toBe(true);
    expect(allowed('User:consumer', 'Read', 'group', 'tenant-sync-consumer-2')).toBe(false);
    expect(allowed('User:operator', 'Read', 'topic', 'user-events')).toBe(false);
    expect(allowed('User:operator', 'Read', 'group', 'tenant-sync-reader-1234')).toBe(true);
    expect(rules.some((rule) => rule.operations.includes('Create'))).toBe(false);
  });

  it("gives the console, when it runs, the operator's rights and the consumers' lag, never a place in their group", () => {
    const withConsole = tenantSyncAcls({
      principals: { relay: 'User:relay', consumer: 'User:consumer', operator: 'User:operator', console: 'User:console' },
      eventTopics: ['user-events'],
      consumerGroup: 'tenant-sync-consumer',
    }).filter((rule) => rule.principal === 'User:console');
    expect(withConsole.find((rule) => rule.resource === 'group' && rule.pattern === 'literal')).toMatchObject({ names: ['tenant-sync-consumer'], operations: ['Describe'] });
    expect(withConsole.some((rule) => rule.resource === 'topic' && rule.names.includes('user-events') && rule.operations.includes('Read'))).toBe(false);
  });

  it('writes kafka-acls.sh arguments', () => {
    expect(aclCommandArgs(rules[0]!)).toEqual([
      '--add', '--allow-principal', 'User:relay', '--operation', 'Write', '--operation', 'Describe',
      '--topic', 'user-events', '--topic', 'team-events', '--resource-pattern-type', 'literal',
    ]);
  });
});
