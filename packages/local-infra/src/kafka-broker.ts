import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, openSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { isPortOpen, waitFor } from './net.ts';
import { localDir, workspaceRoot } from './paths.ts';

/** Where the broker jars are copied by `installKafkaJars`. */
export const kafkaLibDir = path.join(localDir, 'kafka', 'lib');
const pom = path.join(workspaceRoot, 'infra', 'kafka', 'pom.xml');
export const log4jConfig = path.join(workspaceRoot, 'infra', 'kafka', 'log4j2.yaml');

export class KafkaToolingError extends Error {
  readonly code = 'INFRA_KAFKA_TOOLING';
}

export function requireTool(command: string, args: string[]): void {
  const result = spawnSync(command, args, { stdio: 'ignore' });
  if (result.error || result.status !== 0) {
    throw new KafkaToolingError(
      `'${command}' is not available, so a local Kafka broker cannot be ${command === 'mvn' ? 'installed' : 'started'}. ` +
        'Install a JDK (17+) and Maven, or point KAFKA_BROKERS at a running broker ' +
        '(infra/compose.yaml starts one with Docker: docker compose -f infra/compose.yaml up -d kafka).',
    );
  }
}

/**
 * Copies the jars of Apache Kafka (KRaft broker) from Maven Central, and its admin tools
 * (`kafka-tools`: AclCommand), into `kafkaLibDir`; a no-op once done.
 */
export function installKafkaJars(log: (line: string) => void = () => {}): void {
  const present = (prefix: RegExp) => existsSync(kafkaLibDir) && readdirSync(kafkaLibDir).some((file) => prefix.test(file));
  if (present(/^kafka_2\.13-/) && present(/^kafka-tools-\d/)) {
    log(`Kafka jars already in ${kafkaLibDir}`);
    return;
  }
  requireTool('java', ['-version']);
  requireTool('mvn', ['-v']);
  mkdirSync(kafkaLibDir, { recursive: true });
  if (!present(/^kafka_2\.13-/)) {
    const result = spawnSync(
      'mvn',
      ['-q', '-B', '-f', pom, 'dependency:copy-dependencies', '-DincludeScope=runtime', `-DoutputDirectory=${kafkaLibDir}`],
      { stdio: 'inherit' },
    );
    if (result.status !== 0) throw new KafkaToolingError(`mvn dependency:copy-dependencies failed (exit ${result.status})`);
  }
  if (!present(/^kafka-tools-\d/)) {
    // The tools jar alone: everything it needs is already on the broker's classpath.
    const version = /<kafka\.version>([^<]+)<\/kafka\.version>/.exec(readFileSync(pom, 'utf8'))?.[1] ?? '';
    const result = spawnSync(
      'mvn',
      ['-q', '-B', '-f', pom, 'dependency:copy', `-Dartifact=org.apache.kafka:kafka-tools:${version}`, `-DoutputDirectory=${kafkaLibDir}`],
      { stdio: 'inherit' },
    );
    if (result.status !== 0) throw new KafkaToolingError(`mvn dependency:copy of kafka-tools failed (exit ${result.status})`);
  }
  log(`Kafka jars copied to ${kafkaLibDir}`);
}

/**
 * The local broker and tools compile with C1 only. A broker here is started fresh for each run
 * and shares two cores with everything it serves: through the 30 s steady phase of
 * `consumer:bench`, C2 was still compiling and took 0.19 of a core of the broker's 0.48
 * (per-thread CPU). C1 only, the broker took 0.31, and the end-to-end p99 at 500 changes/s was
 * 161 and 181 ms against 238 and 317 in interleaved runs; the relay's steady p99 49 and 43 ms
 * against 83 and 91, its drain no slower. A long-running production broker has long finished
 * compiling and runs elsewhere: this is the development broker's setting only.
 */
export const C1_ONLY = '-XX:TieredStopAtLevel=1';

/**
 * Runs one of Kafka's own command-line tools from the jars (e.g. `org.apache.kafka.tools.AclCommand`,
 * what `kafka-acls.sh` runs) and returns its output; throws with that output when it fails.
 */
export function runKafkaTool(mainClass: string, args: string[], timeoutMs = 120_000): string {
  requireTool('java', ['-version']);
  // A no-op when the jars are there; fetches the tools jar where an older setup copied the broker's only.
  installKafkaJars();
  const result = spawnSync('java', ['-Xmx256m', C1_ONLY, `-Dlog4j2.configurationFile=${log4jConfig}`, '-cp', `${kafkaLibDir}/*`, mainClass, ...args], {
    encoding: 'utf8',
    timeout: timeoutMs,
  });
  if (result.status !== 0) throw new KafkaToolingError(`${mainClass} failed (exit ${result.status ?? result.signal}): ${result.stderr || result.stdout}`);
  return result.stdout;
}

export interface KafkaBrokerOptions {
  /** Folder for the broker's log segments and metadata; formatted on first start. */
  dataDir: string;
  port: number;
  controllerPort: number;
  /** Where the broker's own output goes. */
  logFile: string;
  /** A SASL_SSL listener with users and ACLs instead of PLAINTEXT; see `SecuredListener`. */
  secured?: SecuredListener | undefined;
  /** How long the broker may take to accept connections (2 minutes: a loaded machine's JVM starts slowly). */
  startTimeoutMs?: number | undefined;
}

/**
 * How a secured broker listens: TLS on every listener (the controller's too), SASL on top, and
 * the StandardAuthorizer refusing whatever no ACL allows. Clients authenticate with
 * SCRAM-SHA-512 (users created in the metadata with `kafka-storage format --add-scram`, the
 * broker's own tool) or PLAIN (users of the listener's JAAS configuration). The broker talks to
 * its controller and to itself as the principal `User:broker`, with a password made at start.
 */
export interface SecuredListener {
  /** PEM files: the broker's certificate (naming 127.0.0.1), its unencrypted PKCS#8 key, and the CA that signed it. */
  certFile: string;
  keyFile: string;
  caFile: string;
  /** SCRAM-SHA-512 users: name → password. Created when the storage is formatted, so on a fresh dataDir only. */
  scramUsers: Record<string, string>;
  /** PLAIN users: name → password. */
  plainUsers?: Record<string, string>;
  /** Principals allowed everything (besides `User:broker`), e.g. `User:admin` that sets the ACLs. */
  superUsers: string[];
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
  const secured = options.secured && securedProperties(options.secured, options.dataDir);
  writeFileSync(properties, serverProperties(options.port, options.controllerPort, logDirs, secured?.lines), { mode: 0o600 });
  const classpath = `${kafkaLibDir}/*`;
  const jvm = ['-Xms256m', '-Xmx768m', '-XX:+UseG1GC', C1_ONLY, '-Djava.awt.headless=true', `-Dlog4j2.configurationFile=${log4jConfig}`];

  if (!existsSync(path.join(logDirs, 'meta.properties'))) {
    const clusterId = spawnSync('java', [...jvm, '-cp', classpath, 'kafka.tools.StorageTool', 'random-uuid'], { encoding: 'utf8' })
      .stdout.trim()
      .split('\n')
      .at(-1);
    const format = spawnSync(
      'java',
      [...jvm, '-cp', classpath, 'kafka.tools.StorageTool', 'format', '--standalone', '-t', clusterId ?? '', '-c', properties, ...(secured?.formatArgs ?? [])],
      { encoding: 'utf8' },
    );
    if (format.status !== 0) throw new KafkaToolingError(`kafka storage format failed: ${format.stderr || format.stdout}`);
  }

  const out = openSync(options.logFile, 'a');
  const child = spawn('java', [...jvm, '-cp', classpath, 'kafka.Kafka', properties], { stdio: ['ignore', out, out] });
  let exited = false;
  child.once('exit', () => (exited = true));
  const stop = () =>
    new Promise<void>((resolve) => {
      if (exited) return resolve();
      const killer = setTimeout(() => child.kill('SIGKILL'), 15_000);
      child.once('exit', () => {
        clearTimeout(killer);
        resolve();
      });
      child.kill('SIGTERM');
    });

  try {
    await waitFor(
      `the Kafka broker on 127.0.0.1:${options.port} (log: ${options.logFile})`,
      async () => {
        if (exited) throw new KafkaToolingError(`the Kafka broker exited during start; see ${options.logFile}`);
        return isPortOpen(options.port);
      },
      options.startTimeoutMs ?? 120_000,
    );
  } catch (error) {
    // A broker that did not come up in time is not left running behind the caller.
    await stop();
    throw error;
  }

  return { brokers: `127.0.0.1:${options.port}`, process: child, stop };
}

function serverProperties(port: number, controllerPort: number, logDirs: string, secured?: string[]): string {
  const listeners = secured
    ? [`listeners=SASL_SSL://127.0.0.1:${port},CONTROLLER://127.0.0.1:${controllerPort}`, `advertised.listeners=SASL_SSL://127.0.0.1:${port}`, ...secured]
    : [
        `listeners=PLAINTEXT://127.0.0.1:${port},CONTROLLER://127.0.0.1:${controllerPort}`,
        `advertised.listeners=PLAINTEXT://127.0.0.1:${port}`,
        'listener.security.protocol.map=PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT',
        'inter.broker.listener.name=PLAINTEXT',
      ];
  return [
    'process.roles=broker,controller',
    'node.id=1',
    `controller.quorum.bootstrap.servers=127.0.0.1:${controllerPort}`,
    ...listeners,
    'controller.listener.names=CONTROLLER',
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

const jaasValue = /^[A-Za-z0-9._~+/=-]+$/;

/** The server properties and format arguments of a secured broker (its PEM keystore written to `dataDir`). */
function securedProperties(secured: SecuredListener, dataDir: string): { lines: string[]; formatArgs: string[] } {
  const brokerPassword = randomBytes(24).toString('base64url');
  const plainUsers = { ...secured.plainUsers, broker: brokerPassword };
  for (const [name, password] of [...Object.entries(plainUsers), ...Object.entries(secured.scramUsers)]) {
    if (!jaasValue.test(name) || !jaasValue.test(password)) throw new KafkaToolingError(`user ${JSON.stringify(name)}: names and passwords of the local broker are [A-Za-z0-9._~+/=-]`);
  }
  const keystore = path.join(dataDir, 'broker-keystore.pem');
  writeFileSync(keystore, `${readFileSync(secured.keyFile, 'utf8').trim()}\n${readFileSync(secured.certFile, 'utf8').trim()}\n`, { mode: 0o600 });
  const plainLogin = (users: Record<string, string>) =>
    `org.apache.kafka.common.security.plain.PlainLoginModule required username="broker" password="${brokerPassword}" ${Object.entries(users)
      .map(([name, password]) => `user_${name}="${password}"`)
      .join(' ')};`;
  return {
    lines: [
      'listener.security.protocol.map=SASL_SSL:SASL_SSL,CONTROLLER:SASL_SSL',
      'inter.broker.listener.name=SASL_SSL',
      'sasl.enabled.mechanisms=SCRAM-SHA-512,PLAIN',
      'sasl.mechanism.inter.broker.protocol=PLAIN',
      'sasl.mechanism.controller.protocol=PLAIN',
      'listener.name.sasl_ssl.sasl.enabled.mechanisms=SCRAM-SHA-512,PLAIN',
      'listener.name.sasl_ssl.scram-sha-512.sasl.jaas.config=org.apache.kafka.common.security.scram.ScramLoginModule required;',
      `listener.name.sasl_ssl.plain.sasl.jaas.config=${plainLogin(plainUsers)}`,
      // SCRAM credentials live in the metadata the controller serves, so the controller's own
      // listener cannot use them: its one user is the broker, over PLAIN inside TLS.
      'listener.name.controller.sasl.enabled.mechanisms=PLAIN',
      `listener.name.controller.plain.sasl.jaas.config=${plainLogin({ broker: brokerPassword })}`,
      'ssl.keystore.type=PEM',
      `ssl.keystore.location=${keystore}`,
      'ssl.truststore.type=PEM',
      `ssl.truststore.location=${secured.caFile}`,
      'ssl.endpoint.identification.algorithm=https',
      'authorizer.class.name=org.apache.kafka.metadata.authorizer.StandardAuthorizer',
      'allow.everyone.if.no.acl.found=false',
      `super.users=${['User:broker', ...secured.superUsers].join(';')}`,
    ],
    formatArgs: Object.entries(secured.scramUsers).flatMap(([name, password]) => ['--add-scram', `SCRAM-SHA-512=[name=${name},password=${password}]`]),
  };
}
