/**
 * How a client connects and proves itself: an app's KAFKA_SECURITY_* settings, as packages/config
 * resolves them (the SASL password already read from its file, the KAFKA_PROP_<name>
 * pass-through collected in KAFKA_PROPERTIES).
 */
export interface KafkaSecuritySettings {
  KAFKA_SECURITY_PROTOCOL: 'PLAINTEXT' | 'SSL' | 'SASL_SSL';
  KAFKA_SSL_CA_FILE?: string | undefined;
  KAFKA_SSL_CERT_FILE?: string | undefined;
  KAFKA_SSL_KEY_FILE?: string | undefined;
  KAFKA_SASL_MECHANISM: 'SCRAM-SHA-512' | 'SCRAM-SHA-256' | 'PLAIN';
  KAFKA_SASL_USERNAME?: string | undefined;
  KAFKA_SASL_PASSWORD?: string | undefined;
  /** Further librdkafka properties, by their librdkafka names. */
  KAFKA_PROPERTIES: Readonly<Record<string, string>>;
}

/** Only the Kafka security settings of `config`: what may be handed to another process. */
export function kafkaSecurityOf(config: KafkaSecuritySettings): KafkaSecuritySettings {
  return {
    KAFKA_SECURITY_PROTOCOL: config.KAFKA_SECURITY_PROTOCOL,
    KAFKA_SSL_CA_FILE: config.KAFKA_SSL_CA_FILE,
    KAFKA_SSL_CERT_FILE: config.KAFKA_SSL_CERT_FILE,
    KAFKA_SSL_KEY_FILE: config.KAFKA_SSL_KEY_FILE,
    KAFKA_SASL_MECHANISM: config.KAFKA_SASL_MECHANISM,
    KAFKA_SASL_USERNAME: config.KAFKA_SASL_USERNAME,
    KAFKA_SASL_PASSWORD: config.KAFKA_SASL_PASSWORD,
    KAFKA_PROPERTIES: config.KAFKA_PROPERTIES,
  };
}

/**
 * The librdkafka properties of `settings`: the pass-through, then the security settings over
 * it. With TLS the broker's certificate is checked against the CA and its host name
 * (`ssl.endpoint.identification.algorithm=https`), whatever librdkafka's default of the day.
 */
export function securityProperties(settings: KafkaSecuritySettings | undefined): Record<string, string> {
  if (!settings) return {};
  const protocol = settings.KAFKA_SECURITY_PROTOCOL;
  const properties: Record<string, string> = { ...settings.KAFKA_PROPERTIES, 'security.protocol': protocol.toLowerCase() };
  if (protocol === 'PLAINTEXT') return properties;
  properties['ssl.endpoint.identification.algorithm'] = 'https';
  if (settings.KAFKA_SSL_CA_FILE) properties['ssl.ca.location'] = settings.KAFKA_SSL_CA_FILE;
  if (settings.KAFKA_SSL_CERT_FILE && settings.KAFKA_SSL_KEY_FILE) {
    properties['ssl.certificate.location'] = settings.KAFKA_SSL_CERT_FILE;
    properties['ssl.key.location'] = settings.KAFKA_SSL_KEY_FILE;
  }
  if (protocol === 'SASL_SSL') {
    properties['sasl.mechanism'] = settings.KAFKA_SASL_MECHANISM;
    properties['sasl.username'] = settings.KAFKA_SASL_USERNAME ?? '';
    properties['sasl.password'] = settings.KAFKA_SASL_PASSWORD ?? '';
  }
  return properties;
}
