import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, openSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { C1_ONLY, installKafkaJars, KafkaToolingError, kafkaLibDir, log4jConfig, requireTool } from './kafka-broker.ts';
import { freePort, isPortOpen, waitFor } from './net.ts';

export interface KafkaClusterOptions {
  /** Parent folder: each node keeps its properties, log segments, metadata and output in `node-<id>/`. */
  dataDir: string;
  /** Nodes, each a combined broker and KRaft controller (3 by default). */
  size?: number;
}

/** One node of the cluster: a broker and a voter of the metadata quorum. */
export interface KafkaClusterNode {
  id: number;
  port: number;
  controllerPort: number;
  /** The node's own output (WARN and above). */
  logFile: string;
  running(): boolean;
  /** SIGKILL, as a crashed machine: no controlled shutdown, no leadership handed over. */
  kill(): Promise<void>;
  /** Starts the node again on its ports and data; resolves when it accepts connections. */
  start(): Promise<void>;
  /** SIGTERM (a controlled shutdown), SIGKILL after `graceMs`. */
  stop(graceMs?: number): Promise<void>;
}

export interface RunningKafkaCluster {
  /** Every node's address, comma-separated: a client's bootstrap list. */
  brokers: string;
  nodes: KafkaClusterNode[];
  /** Stops every node that still runs; the data stays in `dataDir`. */
  stop(): Promise<void>;
}

// Each JVM is small and cheap to start (the quick C1 compiler only, one GC thread): three of
// them share a development machine with the apps under test, and a node killed and started
// again must not wait minutes for CPU to compile itself.
const jvm = ['-Xms128m', '-Xmx512m', '-XX:+UseSerialGC', C1_ONLY, '-Djava.awt.headless=true', `-Dlog4j2.configurationFile=${log4jConfig}`];
const classpath = `${kafkaLibDir}/*`;

/**
 * Starts a KRaft cluster of `size` combined nodes from the project's broker jars, on free
 * loopback ports, with the durability a production cluster uses: every topic (the internal
 * ones too) replicated to 3 nodes (or `size`, when smaller), `min.insync.replicas` 2 and no
 * unclean leader election, so a write acknowledged by `acks=all` survives the loss of any
 * one node. The quorum is static (`controller.quorum.voters`): the nodes are known up front.
 * Resolves when every node accepts connections; clients still wait for the brokers to register.
 */
export async function startKafkaCluster({ dataDir, size = 3 }: KafkaClusterOptions): Promise<RunningKafkaCluster> {
  requireTool('java', ['-version']);
  if (!existsSync(kafkaLibDir)) installKafkaJars();
  const ports = [];
  for (let index = 0; index < size; index += 1) ports.push({ id: index + 1, port: await freePort(), controllerPort: await freePort() });
  const voters = ports.map(({ id, controllerPort }) => `${id}@127.0.0.1:${controllerPort}`).join(',');
  const clusterId = newClusterId();

  const nodes = ports.map(({ id, port, controllerPort }) => {
    const nodeDir = path.join(dataDir, `node-${id}`);
    const logDirs = path.join(nodeDir, 'logs');
    const properties = path.join(nodeDir, 'server.properties');
    mkdirSync(nodeDir, { recursive: true });
    writeFileSync(properties, serverProperties({ id, port, controllerPort, voters, logDirs, replicas: Math.min(3, size) }));
    const format = spawnSync('java', [...jvm, '-cp', classpath, 'kafka.tools.StorageTool', 'format', '-t', clusterId, '-c', properties], {
      encoding: 'utf8',
    });
    if (format.status !== 0) throw new KafkaToolingError(`kafka storage format of node ${id} failed: ${format.stderr || format.stdout}`);
    return clusterNode({ id, port, controllerPort, properties, logFile: path.join(nodeDir, 'kafka.log') });
  });

  const stop = async () => {
    await Promise.all(nodes.map((node) => node.stop()));
  };
  try {
    await Promise.all(nodes.map((node) => node.start()));
  } catch (error) {
    await stop();
    throw error;
  }
  return { brokers: ports.map(({ port }) => `127.0.0.1:${port}`).join(','), nodes, stop };
}

/** A cluster id as Kafka makes them: 16 random bytes, base64url, not starting with '-'. */
function newClusterId(): string {
  for (;;) {
    const id = randomBytes(16).toString('base64url');
    if (!id.startsWith('-')) return id;
  }
}

function clusterNode(options: { id: number; port: number; controllerPort: number; properties: string; logFile: string }): KafkaClusterNode {
  const { id, port, controllerPort, properties, logFile } = options;
  let child: ChildProcess | undefined;
  let exited: Promise<void> = Promise.resolve();
  // A runner that dies without stopping the cluster must not leave JVMs behind.
  const killOnExit = () => child?.kill('SIGKILL');

  const signal = async (name: NodeJS.Signals, graceMs: number) => {
    if (!child) return;
    const running = child;
    const killer = setTimeout(() => running.kill('SIGKILL'), graceMs);
    running.kill(name);
    await exited;
    clearTimeout(killer);
  };

  return {
    id,
    port,
    controllerPort,
    logFile,
    running: () => child !== undefined,
    async start() {
      if (child) return;
      const out = openSync(logFile, 'a');
      const started = spawn('java', [...jvm, '-cp', classpath, 'kafka.Kafka', properties], { stdio: ['ignore', out, out] });
      child = started;
      process.once('exit', killOnExit);
      exited = new Promise((resolve) =>
        started.once('exit', () => {
          if (child === started) child = undefined;
          process.off('exit', killOnExit);
          resolve();
        }),
      );
      await waitFor(
        `Kafka node ${id} on 127.0.0.1:${port}`,
        async () => {
          if (child !== started) throw new KafkaToolingError(`Kafka node ${id} exited during start; see ${logFile}`);
          return isPortOpen(port);
        },
        // The broker listener opens once the quorum has formed and the node caught up with
        // the metadata: slow on a busy machine, whose nodes all start at once.
        300_000,
      ).catch((error: unknown) => {
        throw new KafkaToolingError(`${(error as Error).message}; the end of its log:\n${lastLines(logFile, 10)}`);
      });
    },
    kill: () => signal('SIGKILL', 0),
    stop: (graceMs = 20_000) => signal('SIGTERM', graceMs),
  };
}

const lastLines = (file: string, count: number) => (existsSync(file) ? readFileSync(file, 'utf8').trimEnd().split('\n').slice(-count).join('\n') : '');

function serverProperties(options: { id: number; port: number; controllerPort: number; voters: string; logDirs: string; replicas: number }): string {
  const { id, port, controllerPort, voters, logDirs, replicas } = options;
  const minInsync = Math.max(1, replicas - 1);
  return [
    'process.roles=broker,controller',
    `node.id=${id}`,
    `controller.quorum.voters=${voters}`,
    `listeners=PLAINTEXT://127.0.0.1:${port},CONTROLLER://127.0.0.1:${controllerPort}`,
    `advertised.listeners=PLAINTEXT://127.0.0.1:${port}`,
    'controller.listener.names=CONTROLLER',
    'listener.security.protocol.map=PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT',
    'inter.broker.listener.name=PLAINTEXT',
    `log.dirs=${logDirs}`,
    'num.partitions=6',
    `default.replication.factor=${replicas}`,
    `min.insync.replicas=${minInsync}`,
    'unclean.leader.election.enable=false',
    `offsets.topic.replication.factor=${replicas}`,
    'offsets.topic.num.partitions=6',
    `transaction.state.log.replication.factor=${replicas}`,
    `transaction.state.log.min.isr=${minInsync}`,
    'transaction.state.log.num.partitions=6',
    `share.coordinator.state.topic.replication.factor=${replicas}`,
    `share.coordinator.state.topic.min.isr=${minInsync}`,
    'group.initial.rebalance.delay.ms=0',
    'auto.create.topics.enable=false',
    'num.network.threads=2',
    'num.io.threads=2',
    'num.replica.fetchers=1',
    'log.retention.hours=24',
    '',
  ].join('\n');
}

/**
 * The settings of `topic` as the cluster reports them (Kafka's own `ConfigCommand --all`):
 * the effective value of each, whether set on the topic or inherited from the broker.
 */
export function describeTopicConfig(brokers: string, topic: string): Record<string, string> {
  const result = spawnSync(
    'java',
    [...jvm, '-cp', classpath, 'kafka.admin.ConfigCommand', '--bootstrap-server', brokers, '--entity-type', 'topics', '--entity-name', topic, '--describe', '--all'],
    { encoding: 'utf8', timeout: 60_000 },
  );
  if (result.status !== 0) throw new KafkaToolingError(`describing topic ${topic} failed: ${result.stderr || result.stdout}`);
  const settings: Record<string, string> = {};
  for (const line of result.stdout.split('\n')) {
    const match = /^\s+([\w.]+)=(\S*) sensitive=/.exec(line);
    if (match) settings[match[1]!] = match[2]!;
  }
  return settings;
}
