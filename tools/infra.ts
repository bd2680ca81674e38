// Brings up what the apps need and is not running yet, prints where everything listens, and
// stops what it started on Ctrl-C. PostgreSQL: SOURCE_DATABASE_URL / CONSUMER_DATABASE_URL when
// set, else the server on 127.0.0.1:5432, else an embedded server. Kafka: KAFKA_BROKERS when
// set, else a broker on 127.0.0.1:9092, else a local KRaft broker started from its jars.
import path from 'node:path';
import { ConfigError, consoleConfigSchema, consumerConfigSchema, loadConfig, relayConfigSchema, sourceConfigSchema } from '@tenant-sync/config';
import {
  firstHostPort,
  isPortOpen,
  localDir,
  startEmbeddedPostgres,
  startKafkaBroker,
  waitFor,
  type RunningKafkaBroker,
  type RunningPostgres,
} from '@tenant-sync/local-infra';

const say = (line: string) => console.log(`[infra] ${line}`);
const stops: Array<() => Promise<void>> = [];

async function ensurePostgres(): Promise<string> {
  if (process.env.SOURCE_DATABASE_URL && process.env.CONSUMER_DATABASE_URL) return 'from SOURCE_DATABASE_URL / CONSUMER_DATABASE_URL';
  if (await isPortOpen(5432)) return '127.0.0.1:5432 (already running)';
  say('no PostgreSQL on 127.0.0.1:5432: starting the embedded server');
  const server: RunningPostgres = await startEmbeddedPostgres({ dataDir: path.join(localDir, 'postgres'), port: 5432 });
  stops.push(() => server.stop());
  return '127.0.0.1:5432 (embedded, started here)';
}

async function ensureKafka(): Promise<string> {
  const brokers = process.env.KAFKA_BROKERS ?? '127.0.0.1:9092';
  const { host, port } = firstHostPort(brokers);
  let origin = `${brokers} (already running)`;
  if (!(await isPortOpen(port, host))) {
    if (process.env.KAFKA_BROKERS) throw new Error(`KAFKA_BROKERS=${brokers} does not answer`);
    say('no Kafka broker on 127.0.0.1:9092: starting a local KRaft broker');
    const broker: RunningKafkaBroker = await startKafkaBroker({
      dataDir: path.join(localDir, 'kafka', 'data'),
      port: 9092,
      controllerPort: 9093,
      logFile: path.join(localDir, 'kafka', 'broker.log'),
    });
    stops.push(() => broker.stop());
    origin = `${brokers} (local broker started here, log: .local/kafka/broker.log)`;
  }
  // The topics are the apps' to create (packages/kafka ensureEventTopics): one place decides them.
  return origin;
}

async function stopAll(): Promise<void> {
  for (const stop of stops.reverse()) await stop().catch((error: unknown) => say(`stop failed: ${String(error)}`));
}

let stopping = false;
for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.on(signal, () => {
    if (stopping) return;
    stopping = true;
    say('stopping the infrastructure started here');
    void stopAll().then(() => process.exit(0));
  });
}

try {
  const postgres = await ensurePostgres();
  const kafka = await ensureKafka();
  say(`PostgreSQL ${postgres}`);
  say(`Kafka      ${kafka}`);
} catch (error) {
  console.error(`[infra] ${(error as Error).message}`);
  await stopAll();
  process.exit(1);
}

/**
 * Where the apps listen, read the way they read it (the same variables and defaults), so the
 * banner and the readiness polls follow PUBLIC_PORT, OPS_PORT and the like. Each app checks its
 * whole environment itself; here a bad value only costs the banner.
 */
function listeners() {
  try {
    return {
      source: loadConfig(sourceConfigSchema),
      relay: loadConfig(relayConfigSchema),
      consumer: loadConfig(consumerConfigSchema),
      webConsole: loadConfig(consoleConfigSchema),
    };
  } catch (error) {
    if (error instanceof ConfigError) return undefined;
    throw error;
  }
}

const ready = (host: string, port: number) => fetch(`http://${host}:${port}/health/ready`).then((response) => response.ok, () => false);
const apps = listeners();
if (!apps) {
  say('the apps cannot start with this environment; see their messages above');
} else {
  const { source, relay, consumer, webConsole } = apps;
  const ops = [source, relay, consumer, webConsole];
  try {
    await waitFor('the apps to be ready', async () => (await Promise.all(ops.map((app) => ready(app.OPS_HOST, app.OPS_PORT)))).every(Boolean), 180_000, 500);
    const publicApi = `https://localhost:${source.PUBLIC_PORT}`;
    const cacheApi = `https://localhost:${consumer.PUBLIC_PORT}`;
    console.log(
      [
        '',
        '  tenant-sync is running',
        '  ──────────────────────────────────────────────────────────────',
        `  source   public API (TLS, JWT)       ${publicApi}`,
        `  source   Reference API (mTLS)        https://localhost:${source.INTERNAL_PORT}`,
        `  consumer cache API (TLS, JWT)        ${cacheApi}/cache/users`,
        `  console  tenant admins (token)       https://localhost:${webConsole.PUBLIC_PORT}`,
        `  console  operators (client cert)     https://localhost:${webConsole.PUBLIC_PORT}/operator  (certs/operator-client.crt, docs/console.md)`,
        `  API docs (Swagger UI)                ${publicApi}/docs · ${cacheApi}/docs  (OpenAPI at /docs/json)`,
        `  metrics and health                   ${ops.map((app) => `http://${app.OPS_HOST}:${app.OPS_PORT}`).join(' · ')}  (/metrics, /health/ready)`,
        '  mint a token                         npm run token -- --org 00000000-0000-0000-0000-000000000000',
        '  admin CLI (orgs, members, DLQ)       npm run tenant -- --help',
        '  Ctrl-C stops everything',
        '',
      ].join('\n'),
    );
  } catch {
    say('the apps did not all become ready within 3 minutes; see their logs above');
  }
}
setInterval(() => {}, 1 << 30);
