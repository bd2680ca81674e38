import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, openSync, readdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { isPortOpen, waitFor } from './net.ts';
import { localDir, workspaceRoot } from './paths.ts';

/** Where the broker jars are copied by `installKafkaJars`. */
export const kafkaLibDir = path.join(localDir, 'kafka', 'lib');
const pom = path.join(workspaceRoot, 'infra', 'kafka', 'pom.xml');
const log4jConfig = path.join(workspaceRoot, 'infra', 'kafka', 'log4j2.yaml');

export class KafkaToolingError extends Error {
  readonly code = 'INFRA_KAFKA_TOOLING';
}

function requireTool(command: string, args: string[]): void {
  const result = spawnSync(command, args, { stdio: 'ignore' });
  if (result.error || result.status !== 0) {
    throw new KafkaToolingError(
      `'${command}' is not available, so a local Kafka broker cannot be ${command === 'mvn' ? 'installed' : 'started'}. ` +
        'Install a JDK (17+) and Maven, or point KAFKA_BROKERS at a running broker ' +
        '(infra/compose.yaml starts one with Docker: docker compose -f infra/compose.yaml up -d kafka).',
    );
  }
}

/** Copies the jars of Apache Kafka (KRaft broker) from Maven Central; a no-op once done. */
export function installKafkaJars(log: (line: string) => void = () => {}): void {
  if (existsSync(kafkaLibDir) && readdirSync(kafkaLibDir).some((file) => file.startsWith('kafka_2.13-'))) {
    log(`Kafka jars already in ${kafkaLibDir}`);
    return;
  }
  requireTool('java', ['-version']);
  requireTool('mvn', ['-v']);
  mkdirSync(kafkaLibDir, { recursive: true });
  const result = spawnSync(
    'mvn',
    ['-q', '-B', '-f', pom, 'dependency:copy-dependencies', '-DincludeScope=runtime', `-DoutputDirectory=${kafkaLibDir}`],
    { stdio: 'inherit' },
  );
  if (result.status !== 0) throw new KafkaToolingError(`mvn dependency:copy-dependencies failed (exit ${result.status})`);
  log(`Kafka jars copied to ${kafkaLibDir}`);
}

export interface KafkaBrokerOptions {
  /** Folder for the broker's log segments and metadata; formatted on first start. */
  dataDir: string;
  port: number;
  controllerPort: number;
  /** Where the broker's own output goes. */
  logFile: string;
}

export interface RunningKafkaBroker {
  brokers: string;
  process: ChildProcess;
  stop(): Promise<void>;
}

/**
 * Starts a single-node KRaft broker from the jars: formats its storage once with
 * `StorageTool format --standalone`, runs `kafka.Kafka`, and resolves when it accepts
 * connections. Tuned for a small development box: one replica, no initial rebalance delay.
 */
export async function startKafkaBroker(options: KafkaBrokerOptions): Promise<RunningKafkaBroker> {
  requireTool('java', ['-version']);
  if (!existsSync(kafkaLibDir)) installKafkaJars();
  mkdirSync(options.dataDir, { recursive: true });
  const logDirs = path.join(options.dataDir, 'logs');
  const properties = path.join(options.dataDir, 'server.properties');
  writeFileSync(properties, serverProperties(options.port, options.controllerPort, logDirs));
  const classpath = `${kafkaLibDir}/*`;
  const jvm = ['-Xms256m', '-Xmx768m', '-XX:+UseG1GC', '-Djava.awt.headless=true', `-Dlog4j2.configurationFile=${log4jConfig}`];

  if (!existsSync(path.join(logDirs, 'meta.properties'))) {
    const clusterId = spawnSync('java', [...jvm, '-cp', classpath, 'kafka.tools.StorageTool', 'random-uuid'], { encoding: 'utf8' })
      .stdout.trim()
      .split('\n')
      .at(-1);
    const format = spawnSync(
      'java',
      [...jvm, '-cp', classpath, 'kafka.tools.StorageTool', 'format', '--standalone', '-t', clusterId ?? '', '-c', properties],
      { encoding: 'utf8' },
    );
    if (format.status !== 0) throw new KafkaToolingError(`kafka storage format failed: ${format.stderr || format.stdout}`);
  }

  const out = openSync(options.logFile, 'a');
  const child = spawn('java', [...jvm, '-cp', classpath, 'kafka.Kafka', properties], { stdio: ['ignore', out, out] });
  let exited = false;
  child.once('exit', () => (exited = true));

  await waitFor(
    `the Kafka broker on 127.0.0.1:${options.port} (log: ${options.logFile})`,
    async () => {
      if (exited) throw new KafkaToolingError(`the Kafka broker exited during start; see ${options.logFile}`);
      return isPortOpen(options.port);
    },
    60_000,
  );

  return {
    brokers: `127.0.0.1:${options.port}`,
    process: child,
    stop: () =>
      new Promise<void>((resolve) => {
        if (exited) return resolve();
        const killer = setTimeout(() => child.kill('SIGKILL'), 15_000);
        child.once('exit', () => {
          clearTimeout(killer);
          resolve();
        });
        child.kill('SIGTERM');
      }),
  };
}

function serverProperties(port: number, controllerPort: number, logDirs: string): string {
  return [
    'process.roles=broker,controller',
    'node.id=1',
    `controller.quorum.bootstrap.servers=127.0.0.1:${controllerPort}`,
    `listeners=PLAINTEXT://127.0.0.1:${port},CONTROLLER://127.0.0.1:${controllerPort}`,
    `advertised.listeners=PLAINTEXT://127.0.0.1:${port}`,
    'controller.listener.names=CONTROLLER',
    'listener.security.protocol.map=PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT',
    'inter.broker.listener.name=PLAINTEXT',
    `log.dirs=${logDirs}`,
    'num.partitions=3',
    'default.replication.factor=1',
    'min.insync.replicas=1',
    'offsets.topic.replication.factor=1',
    'offsets.topic.num.partitions=3',
    'transaction.state.log.replication.factor=1',
    'transaction.state.log.min.isr=1',
    'share.coordinator.state.topic.replication.factor=1',
    'share.coordinator.state.topic.min.isr=1',
    'group.initial.rebalance.delay.ms=0',
    'auto.create.topics.enable=false',
    'num.network.threads=2',
    'num.io.threads=4',
    'log.retention.hours=24',
    '',
  ].join('\n');
}
