import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import pino from 'pino';
import type {} from 'vitest';
import postgres from 'postgres';
import { deadLetterTopic, DEFAULT_ORG_ID, DEMO_ORG_ID, eventTopic } from '@tenant-sync/contracts';
import { developmentPasswords } from '@tenant-sync/config';
import { APP_ROLES, dropDatabases, type AppRole, provisionDatabases, withDatabase } from '@tenant-sync/migrations';
import { createKafka, ensureTopics } from '@tenant-sync/kafka';
import { canConnect, freePort, startEmbeddedPostgres, startKafkaBroker } from '@tenant-sync/local-infra';

declare module 'vitest' {
  export interface ProvidedContext {
    /** Provided by the global setup; read it with `inject('infra')`. */
    infra: TestInfrastructure;
  }
}

/** What a test run gets: fresh databases, its own topics, and where to reach them. */
export interface TestInfrastructure {
  /** `env`, `testcontainers` or `local`: where PostgreSQL and Kafka came from. */
  postgresOrigin: string;
  kafkaOrigin: string;
  adminUrl: string;
  sourceDatabase: string;
  consumerDatabase: string;
  /** Superuser URLs of the two databases, for arranging and checking state. */
  sourceAdminUrl: string;
  consumerAdminUrl: string;
  /** URLs as the apps' own roles (no BYPASSRLS, not owners). */
  sourceAppUrl: string;
  relayAppUrl: string;
  /** The admin CLI's cross-tenant role on the source database. */
  operatorUrl: string;
  consumerAppUrl: string;
  brokers: string;
  /** This run's KAFKA_TOPIC_TEMPLATE: its topics of every type are its own. */
  topicTemplate: string;
  /** The users' events topic of that template, and its dead-letter topic. */
  topic: string;
  dlqTopic: string;
}

/** Tenants every test database is seeded with, each with an admin and a plain member. */
export const testTenants = {
  a: { id: DEFAULT_ORG_ID, admin: 'default-admin', member: 'default-member' },
  b: { id: DEMO_ORG_ID, admin: 'demo-admin', member: 'demo-member' },
  suspended: { id: '22222222-2222-2222-2222-222222222222', admin: 'suspended-admin', member: 'suspended-member' },
} as const;

/** The app roles log in with the development passwords setup made (`.local/secrets`). */
const passwords = developmentPasswords(Object.values(APP_ROLES));

const appRoleUrl = (adminUrl: string, role: AppRole, database: string) => {
  const url = new URL(withDatabase(adminUrl, database));
  url.username = role;
  url.password = passwords[role];
  return url.toString();
};

/** True when a Docker engine answers on its socket (or DOCKER_HOST). */
async function dockerAnswers(): Promise<boolean> {
  if (process.env.DOCKER_HOST) return true;
  const socket = '/var/run/docker.sock';
  if (!existsSync(socket)) return false;
  return new Promise((resolve) => {
    const client = connect(socket);
    client.setTimeout(1_000, () => (client.destroy(), resolve(false)));
    client.once('connect', () => (client.destroy(), resolve(true)));
    client.once('error', () => resolve(false));
  });
}

/**
 * Starts or reuses a real PostgreSQL and a real Kafka for one test run: from
 * DATABASE_ADMIN_URL / KAFKA_BROKERS when set, from testcontainers when a Docker engine
 * answers, else as local processes (the server on 127.0.0.1:5432 or an embedded one; a KRaft
 * broker from the jars). Returns the infrastructure and a function that removes it all.
 */
export async function startTestInfrastructure(): Promise<{ infra: TestInfrastructure; stop: () => Promise<void> }> {
  const stops: Array<() => Promise<void>> = [];
  const stop = async () => {
    for (const fn of stops.reverse()) await fn().catch((error: unknown) => console.error('test infrastructure stop failed', error));
  };
  try {
    const docker = await dockerAnswers();
    const { adminUrl, origin: postgresOrigin } = await startPostgres(docker, stops);
    const { brokers, origin: kafkaOrigin } = await startKafka(docker, stops);

    const runId = `${process.pid}_${randomBytes(3).toString('hex')}`;
    const sourceDatabase = `test_${runId}_source`;
    const consumerDatabase = `test_${runId}_consumer`;
    await provisionDatabases({ adminUrl, sourceDatabase, consumerDatabase, passwords });
    stops.push(() => dropDatabases(adminUrl, [sourceDatabase, consumerDatabase]));
    await seedTenants(withDatabase(adminUrl, sourceDatabase));

    const topicTemplate = `test-${runId}-{type}-events`;
    const [topic, teamTopic] = [eventTopic(topicTemplate, 'USER'), eventTopic(topicTemplate, 'TEAM')];
    const dlqTopic = deadLetterTopic(topic);
    const kafka = createKafka({ brokers, clientId: 'tenant-sync-tests', logger: pino({ level: 'error' }) });
    const topics = [
      { topic, numPartitions: 3 },
      { topic: dlqTopic, numPartitions: 1 },
      { topic: teamTopic, numPartitions: 3 },
      { topic: deadLetterTopic(teamTopic), numPartitions: 1 },
    ];
    await ensureTopics(kafka, topics);
    stops.push(async () => {
      const admin = kafka.admin();
      await admin.connect();
      await admin.deleteTopics({ topics: topics.map((spec) => spec.topic) }).finally(() => admin.disconnect());
    });

    return {
      infra: {
        postgresOrigin,
        kafkaOrigin,
        adminUrl,
        sourceDatabase,
        consumerDatabase,
        sourceAdminUrl: withDatabase(adminUrl, sourceDatabase),
        consumerAdminUrl: withDatabase(adminUrl, consumerDatabase),
        sourceAppUrl: appRoleUrl(adminUrl, 'source_app', sourceDatabase),
        relayAppUrl: appRoleUrl(adminUrl, 'relay_app', sourceDatabase),
        operatorUrl: appRoleUrl(adminUrl, 'tenant_operator', sourceDatabase),
        consumerAppUrl: appRoleUrl(adminUrl, 'consumer_app', consumerDatabase),
        brokers,
        topicTemplate,
        topic,
        dlqTopic,
      },
      stop,
    };
  } catch (error) {
    await stop();
    throw error;
  }
}

async function startPostgres(docker: boolean, stops: Array<() => Promise<void>>): Promise<{ adminUrl: string; origin: string }> {
  if (process.env.DATABASE_ADMIN_URL) return { adminUrl: process.env.DATABASE_ADMIN_URL, origin: 'env' };
  if (docker) {
    const { GenericContainer, Wait } = await import('testcontainers');
    const container = await new GenericContainer('postgres:17-alpine')
      .withEnvironment({ POSTGRES_PASSWORD: 'postgres' })
      .withExposedPorts(5432)
      .withWaitStrategy(Wait.forLogMessage(/database system is ready to accept connections/, 2))
      .start();
    stops.push(async () => void (await container.stop()));
    return { adminUrl: `postgres://postgres:postgres@${container.getHost()}:${container.getMappedPort(5432)}/postgres`, origin: 'testcontainers' };
  }
  const local = 'postgres://postgres@127.0.0.1:5432/postgres';
  if (await canConnect(local)) return { adminUrl: local, origin: 'local server' };
  const dataDir = await mkdtemp(path.join(tmpdir(), 'tenant-sync-pg-'));
  const server = await startEmbeddedPostgres({ dataDir, port: await freePort() });
  stops.push(async () => {
    await server.stop();
    await rm(dataDir, { recursive: true, force: true });
  });
  return { adminUrl: server.adminUrl, origin: 'embedded' };
}

async function startKafka(docker: boolean, stops: Array<() => Promise<void>>): Promise<{ brokers: string; origin: string }> {
  if (process.env.KAFKA_BROKERS) return { brokers: process.env.KAFKA_BROKERS, origin: 'env' };
  if (docker) {
    const { GenericContainer, Wait } = await import('testcontainers');
    const port = await freePort();
    const container = await new GenericContainer('apache/kafka:4.1.1')
      .withExposedPorts({ container: 9092, host: port })
      .withEnvironment({
        KAFKA_NODE_ID: '1',
        KAFKA_PROCESS_ROLES: 'broker,controller',
        KAFKA_LISTENERS: 'PLAINTEXT://:9092,CONTROLLER://:9093',
        KAFKA_ADVERTISED_LISTENERS: `PLAINTEXT://127.0.0.1:${port}`,
        KAFKA_CONTROLLER_LISTENER_NAMES: 'CONTROLLER',
        KAFKA_LISTENER_SECURITY_PROTOCOL_MAP: 'CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT',
        KAFKA_CONTROLLER_QUORUM_VOTERS: '1@localhost:9093',
        KAFKA_OFFSETS_TOPIC_REPLICATION_FACTOR: '1',
        KAFKA_GROUP_INITIAL_REBALANCE_DELAY_MS: '0',
      })
      .withWaitStrategy(Wait.forListeningPorts())
      .start();
    stops.push(async () => void (await container.stop()));
    return { brokers: `127.0.0.1:${port}`, origin: 'testcontainers' };
  }
  const dataDir = await mkdtemp(path.join(tmpdir(), 'tenant-sync-kafka-'));
  const broker = await startKafkaBroker({
    dataDir,
    port: await freePort(),
    controllerPort: await freePort(),
    logFile: path.join(dataDir, 'broker.log'),
  });
  stops.push(async () => {
    await broker.stop();
    await rm(dataDir, { recursive: true, force: true });
  });
  return { brokers: broker.brokers, origin: 'local broker' };
}

async function seedTenants(sourceAdminUrl: string): Promise<void> {
  const sql = postgres(sourceAdminUrl, { max: 1, onnotice: () => {} });
  try {
    for (const [key, tenant] of Object.entries(testTenants)) {
      const status = key === 'suspended' ? 'SUSPENDED' : 'ACTIVE';
      await sql`INSERT INTO organizations (id, name, status) VALUES (${tenant.id}, ${`Tenant ${key}`}, ${status}) ON CONFLICT DO NOTHING`;
      await sql`INSERT INTO memberships (org_id, subject, role) VALUES (${tenant.id}, ${tenant.admin}, 'tenant_admin') ON CONFLICT DO NOTHING`;
      await sql`INSERT INTO memberships (org_id, subject, role) VALUES (${tenant.id}, ${tenant.member}, 'member') ON CONFLICT DO NOTHING`;
    }
  } finally {
    await sql.end();
  }
}
