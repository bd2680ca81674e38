import { existsSync, readFileSync } from 'node:fs';
import { Type, type Static } from 'typebox';
import { ConfigError } from './errors.ts';
import { kafkaSecurity } from './fields.ts';
import { loadConfig } from './load-config.ts';

const kafkaSecuritySchema = Type.Object(kafkaSecurity);
type KafkaSecurityFields = Static<typeof kafkaSecuritySchema>;

/** The resolved Kafka security of an app: the password read from its file, and the pass-through. */
export type KafkaSecurityConfig = KafkaSecurityFields & {
  /** librdkafka properties from the KAFKA_PROP_<name> variables, by their librdkafka name. */
  KAFKA_PROPERTIES: Readonly<Record<string, string>>;
};

const propertyPrefix = 'KAFKA_PROP_';
const propertyVariable = /^KAFKA_PROP_[A-Z0-9]+(?:_{1,2}[A-Z0-9]+)*$/;

/**
 * The librdkafka property a KAFKA_PROP_<name> variable sets: the name lower-cased, `_` read as
 * `.` and `__` as `_`. KAFKA_PROP_SOCKET_KEEPALIVE_ENABLE → socket.keepalive.enable,
 * KAFKA_PROP_STATISTICS_INTERVAL_MS → statistics.interval.ms, KAFKA_PROP_LOG__LEVEL → log_level.
 */
export function kafkaPropertyName(variable: string): string {
  return variable
    .slice(propertyPrefix.length)
    .toLowerCase()
    .split('__')
    .map((part) => part.replaceAll('_', '.'))
    .join('_');
}

/**
 * Properties the pass-through may not set: each has its own variable (the brokers, the
 * protocol, every TLS and SASL setting), so a credential is never split over two places and a
 * certificate check cannot be switched off from the side (`enable.ssl.certificate.verification`,
 * `ssl.endpoint.identification.algorithm`).
 */
function reservedProperty(property: string): boolean {
  return (
    ['bootstrap.servers', 'metadata.broker.list', 'security.protocol', 'enable.ssl.certificate.verification'].includes(property) ||
    /^(ssl|sasl)[._]/.test(property)
  );
}

const sslVariables = ['KAFKA_SSL_CA_FILE', 'KAFKA_SSL_CERT_FILE', 'KAFKA_SSL_KEY_FILE'] as const;
const saslVariables = ['KAFKA_SASL_USERNAME', 'KAFKA_SASL_PASSWORD', 'KAFKA_SASL_PASSWORD_FILE'] as const;

/**
 * `config` with its Kafka security checked as a whole and resolved: KAFKA_SASL_PASSWORD read from
 * KAFKA_SASL_PASSWORD_FILE when that is given, and KAFKA_PROPERTIES collected from `env`'s
 * KAFKA_PROP_<name> variables. Every problem is reported at once; no message ever holds a
 * password or a property's value.
 */
export function withKafkaSecurity<T extends KafkaSecurityFields>(config: Readonly<T>, env: NodeJS.ProcessEnv): Readonly<T & KafkaSecurityConfig> {
  const problems: string[] = [];
  const protocol = config.KAFKA_SECURITY_PROTOCOL;
  const set = (name: keyof KafkaSecurityFields) => config[name] !== undefined;

  const unusedSsl = protocol === 'PLAINTEXT' ? sslVariables.filter(set) : [];
  const unusedSasl = protocol === 'SASL_SSL' ? [] : saslVariables.filter(set);
  for (const name of [...unusedSsl, ...unusedSasl]) problems.push(`${name} is set, but KAFKA_SECURITY_PROTOCOL=${protocol} does not use it`);

  if (set('KAFKA_SSL_CERT_FILE') !== set('KAFKA_SSL_KEY_FILE')) problems.push('KAFKA_SSL_CERT_FILE and KAFKA_SSL_KEY_FILE go together: set both or neither');
  if (protocol !== 'PLAINTEXT') {
    for (const name of sslVariables) {
      const file = config[name];
      if (file !== undefined && !existsSync(file)) problems.push(`${name}: no file at ${file}`);
    }
  }

  let password = config.KAFKA_SASL_PASSWORD;
  if (protocol === 'SASL_SSL') {
    if (!set('KAFKA_SASL_USERNAME')) problems.push(`KAFKA_SASL_USERNAME is required with KAFKA_SECURITY_PROTOCOL=SASL_SSL`);
    const file = config.KAFKA_SASL_PASSWORD_FILE;
    if (file !== undefined && password !== undefined) problems.push('KAFKA_SASL_PASSWORD and KAFKA_SASL_PASSWORD_FILE are both set: keep one');
    else if (file !== undefined) {
      if (!existsSync(file)) problems.push(`KAFKA_SASL_PASSWORD_FILE: no file at ${file}`);
      else {
        password = readFileSync(file, 'utf8').trim();
        if (!password) problems.push(`KAFKA_SASL_PASSWORD_FILE: ${file} is empty`);
      }
    } else if (password === undefined) problems.push('KAFKA_SASL_PASSWORD_FILE (or KAFKA_SASL_PASSWORD) is required with KAFKA_SECURITY_PROTOCOL=SASL_SSL');
  }

  const properties: Record<string, string> = {};
  for (const [variable, value] of Object.entries(env)) {
    if (!variable.startsWith(propertyPrefix) || value === undefined || value === '') continue;
    if (!propertyVariable.test(variable)) {
      problems.push(`${variable}: a pass-through name is KAFKA_PROP_ and the librdkafka property in capitals, '_' for '.' and '__' for '_'`);
      continue;
    }
    const property = kafkaPropertyName(variable);
    if (reservedProperty(property)) problems.push(`${variable}: ${property} is set through KAFKA_BROKERS, KAFKA_SECURITY_PROTOCOL and the KAFKA_SSL_* / KAFKA_SASL_* variables only`);
    else properties[property] = value;
  }

  if (problems.length > 0) throw new ConfigError(problems);
  return Object.freeze({ ...config, KAFKA_SASL_PASSWORD: password, KAFKA_PROPERTIES: Object.freeze(properties) });
}

/** The Kafka security settings alone, for a tool that talks to Kafka without an app's config. */
export const loadKafkaSecurity = (env: NodeJS.ProcessEnv = process.env): Readonly<KafkaSecurityConfig> =>
  withKafkaSecurity(loadConfig(kafkaSecuritySchema, env), env);
