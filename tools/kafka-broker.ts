// `node tools/kafka-broker.ts install` copies the Kafka broker jars from Maven Central into
// .local/kafka/lib (a no-op when they are there).
import { installKafkaJars, KafkaToolingError } from '@tenant-sync/local-infra';

const [command] = process.argv.slice(2);
if (command !== 'install') {
  console.error('usage: node tools/kafka-broker.ts install');
  process.exit(2);
}
try {
  installKafkaJars(console.log);
} catch (error) {
  if (!(error instanceof KafkaToolingError)) throw error;
  // Not fatal for setup: KAFKA_BROKERS can point at a broker run elsewhere.
  console.warn(`warning: ${error.message}`);
}
