export {
  installKafkaJars,
  kafkaLibDir,
  KafkaToolingError,
  runKafkaTool,
  startKafkaBroker,
  type RunningKafkaBroker,
  type SecuredListener,
} from './kafka-broker.ts';
export { describeTopicConfig, startKafkaCluster, type KafkaClusterNode, type RunningKafkaCluster } from './kafka-cluster.ts';
export { firstHostPort, freePort, isPortOpen, waitFor } from './net.ts';
export { localDir, workspaceRoot } from './paths.ts';
export { canConnect, startEmbeddedPostgres, type EmbeddedPostgresOptions, type RunningPostgres } from './postgres-server.ts';
export { createTestCertificateAuthority, type IssuedCertificate, type TestCertificateAuthority } from './test-certificates.ts';
