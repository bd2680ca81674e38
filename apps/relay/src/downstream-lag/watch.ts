import { fork, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import type { Logger } from 'pino';
import { READ_EVERY_MS, type DownstreamReading, type LagReaderStart } from './read.ts';

/** The lag reader's entry point. */
const LAG_READER = fileURLToPath(new URL('./reader-main.ts', import.meta.url));

/** A send to a reader that has just died: its 'exit' handles that. */
const ignoreClosedChannel = () => {};

/** How long after the lag reader died it is started again. */
const RESTART_AFTER_MS = 5_000;

export interface DownstreamLagOptions {
  /** The brokers and the relay's Kafka security, sent to the reader over its IPC channel, not in its environment. */
  kafka: LagReaderStart['kafka'];
  groups: readonly string[];
  /** The events topics the relay has published to so far. */
  topics: () => readonly string[];
  logger: Logger;
  onRead?: (reading: DownstreamReading) => void;
  logLevel?: string;
}

/**
 * The consumers' lag, read by a child process (`reader-main.ts`) and sent here. Not in the
 * relay's process: librdkafka's admin requests to a group coordinator can abort the whole
 * process when a broker connection drops (`rd_kafka_enq_once_del_source_return: Assertion
 * 'eonce->refcnt > 0' failed`, confluentinc/librdkafka#3663, #4605), as a 30 s broker outage
 * in relay-process.test.ts showed. When the reader dies the lag counts as 0 and it is started
 * again after `RESTART_AFTER_MS`; it exits by itself when the relay is gone (its IPC channel
 * closes).
 */
export function watchDownstreamLag({ kafka, groups, topics, logger, onRead, logLevel = 'info' }: DownstreamLagOptions) {
  let lag = 0;
  let reader: ChildProcess | undefined;
  let stopped = false;
  const timers = new Set<NodeJS.Timeout>();

  function start(): void {
    const child = fork(LAG_READER, [], { execArgv: [], stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
    reader = child;
    // A process that could not start, or a message to one that just died, must not take the
    // relay down: with a callback a failed send is reported there, not as an unhandled 'error'.
    child.on('error', (error) => logger.warn({ err: error }, 'the lag reader failed'));
    child.send({ kafka, groups, logLevel } satisfies LagReaderStart, ignoreClosedChannel);
    child.on('message', (message: { lag?: unknown; appliedPerSecond?: unknown }) => {
      if (typeof message.lag !== 'number') return;
      lag = message.lag;
      onRead?.({ lag, appliedPerSecond: typeof message.appliedPerSecond === 'number' ? message.appliedPerSecond : undefined });
    });
    child.on('exit', (code, signal) => {
      lag = 0;
      onRead?.({ lag });
      reader = undefined;
      if (stopped) return;
      logger.warn({ code, signal, restartInMs: RESTART_AFTER_MS }, 'the lag reader stopped; publishing without RELAY_MAX_LAG until it reads again');
      const timer = setTimeout(() => {
        timers.delete(timer);
        if (!stopped) start();
      }, RESTART_AFTER_MS);
      timer.unref();
      timers.add(timer);
    });
  }

  // The reader learns the topics as the relay meets them.
  const sendTopics = setInterval(() => {
    if (reader?.connected) reader.send({ topics: topics() }, ignoreClosedChannel);
  }, READ_EVERY_MS);
  sendTopics.unref();
  start();

  return {
    /** Messages the slowest consuming group is behind, as last read. */
    current: () => lag,
    /** The reader's process id, while it runs. */
    readerPid: () => reader?.pid,
    async stop(): Promise<void> {
      stopped = true;
      clearInterval(sendTopics);
      for (const timer of timers) clearTimeout(timer);
      const child = reader;
      if (!child) return;
      const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
      child.kill('SIGTERM');
      const killLater = setTimeout(() => child.kill('SIGKILL'), 3_000);
      await exited;
      clearTimeout(killLater);
    },
  };
}

export type DownstreamLag = ReturnType<typeof watchDownstreamLag>;
