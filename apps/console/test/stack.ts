import { spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import path from 'node:path';
import { freePort, waitFor, workspaceRoot } from '@tenant-sync/local-infra';
import { readTopic, type AppProcess, type TestInfrastructure } from '@tenant-sync/testing';

/** The three sync apps and the console, wired together on free ports, with topics of their own. */
export interface ConsoleStack {
  /** `https://localhost:<port>` of the console. */
  consoleUrl: string;
  sourceUrl: string;
  cacheUrl: string;
  /** The events and dead-letter topics of users and teams. */
  topics: { user: string; userDlq: string; team: string; teamDlq: string };
  consumerGroup: string;
  apps: { source: AppProcess; relay: AppProcess; consumer: AppProcess; console: AppProcess };
  stop(): Promise<void>;
}

/**
 * An app's real entry point as a child process, ready when its /health/ready answers 200: the
 * harness's `startApp` for the console too (which it does not know), and with the signal that
 * ended a process that died before it was ready.
 */
export async function startProcess(name: string, env: Record<string, string>, opsPort: number): Promise<AppProcess> {
  const child = spawn(process.execPath, [path.join(workspaceRoot, 'apps', name, 'src', 'main.ts')], {
    cwd: workspaceRoot,
    env: { ...process.env, LOG_LEVEL: 'info', LOG_FORMAT: 'json', OPS_PORT: String(opsPort), ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const lines: string[] = [];
  const collect = (chunk: Buffer) => lines.push(...chunk.toString().split('\n').filter(Boolean));
  child.stdout?.on('data', collect);
  child.stderr?.on('data', collect);
  const killOnExit = () => child.kill('SIGKILL');
  process.once('exit', killOnExit);
  let exitCode: number | null | undefined;
  let exitSignal: string | null = null;
  const exited = new Promise<number | null>((resolve) =>
    child.once('exit', (code, signal) => {
      exitSignal = signal;
      resolve((exitCode = code));
    }),
  );
  const app: AppProcess = {
    name,
    child,
    opsPort,
    logLines: () =>
      lines.map((line) => {
        try {
          return JSON.parse(line) as Record<string, unknown>;
        } catch {
          return { raw: line };
        }
      }),
    async stop(graceMs = 15_000) {
      process.off('exit', killOnExit);
      if (exitCode !== undefined) return exitCode;
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), graceMs);
      const code = await exited;
      clearTimeout(timer);
      return code;
    },
  };
  try {
    await waitFor(
      `${name} to be ready on :${opsPort}`,
      async () => {
        if (exitCode !== undefined) throw new Error(`${name} exited with ${exitCode ?? exitSignal}:\n${lines.slice(-20).join('\n')}`);
        const response = await fetch(`http://127.0.0.1:${opsPort}/health/ready`).catch(() => null);
        return response?.status === 200;
      },
      60_000,
    );
  } catch (error) {
    await app.stop(1_000);
    throw error;
  }
  return app;
}

/** Starts source, relay, consumer and console against the test run's databases and Kafka. */
export async function startConsoleStack(infra: TestInfrastructure): Promise<ConsoleStack> {
  const prefix = `console-${randomUUID().slice(0, 8)}`;
  const template = `${prefix}-{type}-events`;
  const topics = { user: `${prefix}-user-events`, userDlq: `${prefix}-user-events.dlq`, team: `${prefix}-team-events`, teamDlq: `${prefix}-team-events.dlq` };
  const consumerGroup = `${prefix}-group`;
  const [publicPort, internalPort, cachePort, consolePort] = await Promise.all([freePort(), freePort(), freePort(), freePort()]);
  const kafka = { KAFKA_BROKERS: infra.brokers, KAFKA_TOPIC_TEMPLATE: template };
  const started: AppProcess[] = [];
  const stopAll = async () => {
    for (const app of started.reverse()) await app.stop();
  };
  try {
    const source = await startProcess('source', { SOURCE_DATABASE_URL: infra.sourceAppUrl, PUBLIC_PORT: String(publicPort), INTERNAL_PORT: String(internalPort) }, await freePort());
    started.push(source);
    const relay = await startProcess('relay', { ...kafka, RELAY_DATABASE_URL: infra.relayAppUrl }, await freePort());
    started.push(relay);
    // A fresh broker has no group coordinator until a group joins, and the consumer's start-up
    // check (describeGroups) crashes before one exists (confluentinc/confluent-kafka-javascript#531):
    // a reader joins a group first.
    await readTopic(infra.brokers, infra.topic, 1, 3_000);
    const consumer = await startProcess(
      'consumer',
      {
        ...kafka,
        CONSUMER_DATABASE_URL: infra.consumerAppUrl,
        KAFKA_GROUP_ID: consumerGroup,
        SOURCE_INTERNAL_URL: `https://localhost:${internalPort}`,
        PUBLIC_PORT: String(cachePort),
        // A tenant's org status is asked again within a second: the tests suspend and reactivate.
        AUTH_CACHE_TTL_MS: '500',
      },
      await freePort(),
    );
    started.push(consumer);
    const consoleApp = await startProcess(
      'console',
      {
        ...kafka,
        PUBLIC_PORT: String(consolePort),
        SOURCE_PUBLIC_URL: `https://localhost:${publicPort}`,
        CONSUMER_PUBLIC_URL: `https://localhost:${cachePort}`,
        OPERATOR_DATABASE_URL: infra.operatorUrl,
        KAFKA_GROUP_ID: consumerGroup,
        CONSOLE_INSTANCES: [source, relay, consumer].map((app) => `${app.name}=http://127.0.0.1:${app.opsPort}`).join(','),
        CONSOLE_REFRESH_MS: '1000',
        AUTH_CACHE_TTL_MS: '500',
      },
      await freePort(),
    );
    started.push(consoleApp);
    return {
      consoleUrl: `https://localhost:${consolePort}`,
      sourceUrl: `https://localhost:${publicPort}`,
      cacheUrl: `https://localhost:${cachePort}`,
      topics,
      consumerGroup,
      apps: { source, relay, consumer, console: consoleApp },
      stop: stopAll,
    };
  } catch (error) {
    await stopAll();
    throw error;
  }
}
