export { installKafkaJars, kafkaLibDir, KafkaToolingError, startKafkaBroker, type RunningKafkaBroker } from './kafka-broker.ts';
export { firstHostPort, freePort, isPortOpen, waitFor } from './net.ts';
export { localDir, workspaceRoot } from './paths.ts';
export { canConnect, startEmbeddedPostgres, type RunningPostgres } from './postgres-server.ts';
