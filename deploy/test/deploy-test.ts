// Builds the one image, runs source, relay and consumer from it with podman (host network)
// against fresh databases and a Kafka broker, checks a create → consumer-cache round trip, then
// does the same with `podman kube play` on the Kubernetes manifests. Prints one JSON line.
//   npx nx run deploy:test
import { execFile, execFileSync } from 'node:child_process';
import { chmodSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { request } from 'node:https';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { DEFAULT_ORG_ID } from '@tenant-sync/contracts';
import { freePort } from '@tenant-sync/local-infra';
import { startTestInfrastructure, type TestInfrastructure } from '@tenant-sync/testing';

const root = path.resolve(import.meta.dirname, '../..');
const certs = path.join(root, 'certs');
const baseImage = 'localhost/debian-base:bookworm';
const image = 'localhost/tenant-sync:deploy-test';
const runId = `${process.pid}`;
const appUid = 1000;
const minute = 60_000;
const run = promisify(execFile);

if (process.env.npm_lifecycle_event === 'test') {
  // `npm test` runs every project's test target; this one takes minutes and needs podman.
  console.log('deploy:test runs on its own: npx nx run deploy:test');
  process.exit(0);
}

const cleanups: Array<() => Promise<unknown>> = [];
async function cleanUp() {
  for (const fn of cleanups.reverse()) await fn().catch((error: unknown) => console.error('cleanup:', (error as Error).message));
  cleanups.length = 0;
}
// The whole run has a deadline; whatever it started is removed on any exit path.
const deadline = setTimeout(() => {
  console.error('deploy test: deadline of 40 minutes passed');
  void cleanUp().finally(() => process.exit(1));
}, 40 * minute);
for (const signal of ['SIGINT', 'SIGTERM'] as const) process.once(signal, () => void cleanUp().finally(() => process.exit(130)));

const log = (line: string) => console.error(`▸ ${line}`);

async function podman(args: string[], timeoutMs = 2 * minute): Promise<string> {
  const { stdout } = await run('podman', args, { cwd: root, timeout: timeoutMs, maxBuffer: 64 * 1024 * 1024 });
  return stdout.trim();
}

/** GET or POST over TLS with the project CA; resolves with the status and the parsed body. */
function https(url: string, options: { method?: string; token: string; body?: unknown }): Promise<{ status: number; body: unknown }> {
  return new Promise((resolve, reject) => {
    const payload = options.body === undefined ? undefined : JSON.stringify(options.body);
    const req = request(
      url,
      {
        method: options.method ?? 'GET',
        ca: readFileSync(path.join(certs, 'ca.crt')),
        timeout: 5_000,
        headers: { authorization: `Bearer ${options.token}`, ...(payload ? { 'content-type': 'application/json' } : {}) },
      },
      (response) => {
        let text = '';
        response.on('data', (chunk: Buffer) => (text += chunk.toString()));
        response.on('end', () => resolve({ status: response.statusCode ?? 0, body: text ? JSON.parse(text) : undefined }));
      },
    );
    req.on('timeout', () => req.destroy(new Error(`timeout: ${url}`)));
    req.on('error', reject);
    req.end(payload);
  });
}

async function waitUntil(what: string, check: () => Promise<boolean>, timeoutMs: number): Promise<void> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    if (await check().catch(() => false)) return;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 250));
  }
}

const ready = (port: number) =>
  waitUntil(`readiness on :${port}`, async () => (await fetch(`http://127.0.0.1:${port}/health/ready`, { signal: AbortSignal.timeout(2_000) })).ok, 2 * minute);

/** Creates a user on the source and waits until the consumer's cache serves it; the time it took. */
async function roundTrip(sourcePort: number, consumerPort: number, token: string, label: string): Promise<number> {
  const started = Date.now();
  const email = `deploy-${label}-${runId}@example.com`;
  // A 503 is the source shedding load (just started, on a busy machine): a client tries again a second later.
  const create = () => https(`https://localhost:${sourcePort}/users`, { method: 'POST', token, body: { name: `Deploy ${label}`, email } });
  let created = await create();
  for (let attempt = 1; created.status === 503 && attempt < 10; attempt += 1) {
    await new Promise((resolve) => setTimeout(resolve, 1_000));
    created = await create();
  }
  if (created.status !== 201) throw new Error(`POST /users: ${created.status} ${JSON.stringify(created.body)}`);
  const { id } = created.body as { id: string };
  await waitUntil(
    `user ${id} in the consumer cache (${label})`,
    async () => {
      const page = await https(`https://localhost:${consumerPort}/cache/users?limit=500`, { token });
      return page.status === 200 && (page.body as { items: Array<{ id: string }> }).items.some((user) => user.id === id);
    },
    minute,
  );
  return Date.now() - started;
}

/**
 * The files the apps mount, laid out as the Kubernetes Secret volumes of the manifests and
 * owned by the image's user (keys 0600).
 */
function writeMountedFiles(dir: string, infra: TestInfrastructure): void {
  const put = (file: string, content: Buffer | string, mode = 0o644) => {
    mkdirSync(path.dirname(path.join(dir, file)), { recursive: true });
    writeFileSync(path.join(dir, file), content, { mode });
  };
  const cert = (name: string) => readFileSync(path.join(certs, name));
  for (const app of ['source', 'consumer']) {
    put(`${app}/tls/ca.crt`, cert('ca.crt'));
    put(`${app}/tls/tls.crt`, cert(`${app}.crt`));
    put(`${app}/tls/tls.key`, cert(`${app}.key`), 0o600);
  }
  put('consumer/client/tls.crt', cert('consumer-client.crt'));
  put('consumer/client/tls.key', cert('consumer-client.key'), 0o600);
  put('jwt/jwt-public.pem', cert('jwt-public.pem'));
  const passwords = { source: infra.sourceAppUrl, relay: infra.relayAppUrl, consumer: infra.consumerAppUrl };
  for (const [app, url] of Object.entries(passwords)) put(`${app}/database/password`, decodeURIComponent(new URL(url).password), 0o600);
  execFileSync('chown', ['-R', `${appUid}:${appUid}`, dir]);
  chmodSync(dir, 0o755);
}

/** A URL without its password: the apps read it from DATABASE_PASSWORD_FILE, as in a pod. */
const withoutPassword = (url: string) => Object.assign(new URL(url), { password: '' }).toString();

async function main() {
  const scratch = mkdtempSync(path.join(tmpdir(), 'deploy-test-'));
  cleanups.push(async () => rmSync(scratch, { recursive: true, force: true }));

  log('base image (debootstrap, once)');
  await run('bash', [path.join(root, 'deploy/scripts/make-base-image.sh'), baseImage], { timeout: 15 * minute });

  log('building the image (librdkafka compiles from source the first time: several minutes)');
  const buildStart = Date.now();
  await podman(
    [
      'build', '--network', 'host', '--layers',
      '--secret', 'id=build-ca,src=/etc/ssl/certs/ca-certificates.crt',
      '-f', 'deploy/Dockerfile', '--ignorefile', 'deploy/Dockerfile.dockerignore',
      '--build-arg', `BASE_IMAGE=${baseImage}`, '-t', image, root,
    ],
    35 * minute,
  );
  const buildSeconds = Math.round((Date.now() - buildStart) / 1000);
  const imageMb = Math.round(Number(await podman(['image', 'inspect', '--format', '{{.Size}}', image])) / 1e6);

  log('fresh databases and a Kafka broker');
  const { infra, stop } = await startTestInfrastructure();
  cleanups.push(stop);
  const token = execFileSync('npm', ['run', '-s', 'token', '--', '--org', DEFAULT_ORG_ID], { cwd: root, timeout: minute }).toString().trim();
  const mounts = path.join(scratch, 'mounts');
  writeMountedFiles(mounts, infra);

  const ports = { sourcePublic: await freePort(), sourceInternal: await freePort(), consumerPublic: await freePort(), sourceOps: await freePort(), relayOps: await freePort(), consumerOps: await freePort() };
  const common = {
    OPS_HOST: '127.0.0.1',
    KAFKA_BROKERS: infra.brokers,
    KAFKA_TOPIC_TEMPLATE: infra.topicTemplate,
    TLS_CA_FILE: '/etc/tenant-sync/tls/ca.crt',
    TLS_CERT_FILE: '/etc/tenant-sync/tls/tls.crt',
    TLS_KEY_FILE: '/etc/tenant-sync/tls/tls.key',
    TLS_CLIENT_CERT_FILE: '/etc/tenant-sync/client/tls.crt',
    TLS_CLIENT_KEY_FILE: '/etc/tenant-sync/client/tls.key',
    JWT_PUBLIC_KEY_FILE: '/etc/tenant-sync/jwt/jwt-public.pem',
    DATABASE_PASSWORD_FILE: '/etc/tenant-sync/database/password',
  };
  const apps = {
    source: {
      env: { ...common, SOURCE_DATABASE_URL: withoutPassword(infra.sourceAppUrl), PUBLIC_PORT: ports.sourcePublic, INTERNAL_PORT: ports.sourceInternal, OPS_PORT: ports.sourceOps },
      mounts: { tls: 'source/tls', jwt: 'jwt', database: 'source/database' },
    },
    relay: {
      env: { ...common, RELAY_DATABASE_URL: withoutPassword(infra.relayAppUrl), OPS_PORT: ports.relayOps },
      mounts: { database: 'relay/database' },
    },
    consumer: {
      env: {
        ...common,
        CONSUMER_DATABASE_URL: withoutPassword(infra.consumerAppUrl),
        PUBLIC_PORT: ports.consumerPublic,
        OPS_PORT: ports.consumerOps,
        SOURCE_INTERNAL_URL: `https://localhost:${ports.sourceInternal}`,
        KAFKA_GROUP_ID: `deploy-test-${runId}`,
      },
      mounts: { tls: 'consumer/tls', client: 'consumer/client', jwt: 'jwt', database: 'consumer/database' },
    },
  };

  log('podman run: source, relay and consumer from the image');
  for (const [app, { env, mounts: volumes }] of Object.entries(apps)) {
    const name = `tenant-sync-deploy-test-${runId}-${app}`;
    cleanups.push(() => podman(['rm', '-f', '-t', '5', name]));
    await podman([
      'run', '-d', '--name', name, '--network', 'host', '--read-only', '--cap-drop', 'ALL', '--security-opt', 'no-new-privileges',
      ...Object.entries(env).flatMap(([key, value]) => ['-e', `${key}=${value}`]),
      ...Object.entries(volumes).flatMap(([volume, dir]) => ['-v', `${path.join(mounts, dir)}:/etc/tenant-sync/${volume}:ro`]),
      image, 'node', `apps/${app}/src/main.ts`,
    ]);
  }
  try {
    await Promise.all([ready(ports.sourceOps), ready(ports.relayOps), ready(ports.consumerOps)]);
  } catch (error) {
    for (const app of Object.keys(apps)) console.error(await podman(['logs', '--tail', '30', `tenant-sync-deploy-test-${runId}-${app}`]).catch(() => ''));
    throw error;
  }
  const e2eMs = await roundTrip(ports.sourcePublic, ports.consumerPublic, token, 'podman-run');
  log(`round trip through the containers: ${e2eMs} ms`);
  for (const app of Object.keys(apps)) await podman(['rm', '-f', '-t', '5', `tenant-sync-deploy-test-${runId}-${app}`]);

  log('podman kube play: the Kubernetes manifests');
  const manifest = path.join(scratch, 'kube.yaml');
  writeFileSync(manifest, await renderForPodman(path.join(scratch, 'overlay'), infra, mounts));
  cleanups.push(() => podman(['kube', 'play', '--down', manifest]));
  await podman(['kube', 'play', manifest], 5 * minute);
  try {
    await Promise.all([ready(ports.sourceOps), ready(ports.relayOps), ready(ports.consumerOps)]);
  } catch (error) {
    console.error(await podman(['ps', '-a', '--format', '{{.Names}} {{.Status}}']));
    throw error;
  }
  const kubeMs = await roundTrip(ports.sourcePublic, ports.consumerPublic, token, 'kube-play');
  log(`round trip through the kube play pods: ${kubeMs} ms`);

  await cleanUp();
  console.log(JSON.stringify({ image_mb: imageMb, build_s: buildSeconds, e2e_ms: e2eMs, kube_play: 'ok' }));

  /**
   * Renders the base manifests through a Kustomize overlay fit for podman 4.3 on one machine:
   * host network (podman implements no Services, and refuses ports with it), one replica, the
   * local image, this run's ports, databases and topic, and the Secret volumes as host
   * directories of the same layout (podman 4.3 mounts a Secret's values still base64-encoded
   * and ignores `items`). Probes go: podman runs them as curl inside the image, which has none.
   */
  async function renderForPodman(dir: string, testInfra: TestInfrastructure, hostFiles: string): Promise<string> {
    mkdirSync(dir, { recursive: true });
    const hostPath = (name: string, sub: string) => ({ name, hostPath: { path: path.join(hostFiles, sub), type: 'Directory' } });
    const perApp = {
      source: { env: { PUBLIC_PORT: ports.sourcePublic, INTERNAL_PORT: ports.sourceInternal, OPS_PORT: ports.sourceOps }, volumes: apps.source.mounts },
      relay: { env: { OPS_PORT: ports.relayOps }, volumes: apps.relay.mounts },
      consumer: { env: { PUBLIC_PORT: ports.consumerPublic, OPS_PORT: ports.consumerOps }, volumes: apps.consumer.mounts },
    };
    const kustomization = {
      apiVersion: 'kustomize.config.k8s.io/v1beta1',
      kind: 'Kustomization',
      resources: [path.relative(dir, path.join(root, 'deploy/k8s/base'))],
      images: [{ name: 'tenant-sync', newName: image.split(':')[0], newTag: image.split(':')[1] }],
      configMapGenerator: [
        {
          name: 'tenant-sync-config',
          behavior: 'merge',
          literals: Object.entries({
            OPS_HOST: '127.0.0.1',
            INTERNAL_HOST: '127.0.0.1',
            SOURCE_DATABASE_URL: withoutPassword(testInfra.sourceAppUrl),
            RELAY_DATABASE_URL: withoutPassword(testInfra.relayAppUrl),
            CONSUMER_DATABASE_URL: withoutPassword(testInfra.consumerAppUrl),
            KAFKA_BROKERS: testInfra.brokers,
            KAFKA_TOPIC_TEMPLATE: testInfra.topicTemplate,
            KAFKA_GROUP_ID: `deploy-test-kube-${runId}`,
            SOURCE_INTERNAL_URL: `https://localhost:${ports.sourceInternal}`,
          }).map(([key, value]) => `${key}=${value}`),
        },
      ],
      generatorOptions: { disableNameSuffixHash: true },
      patches: [
        ...Object.entries(perApp).map(([app, { env, volumes }]) => ({
          target: { kind: 'Deployment', name: `tenant-sync-${app}` },
          patch: JSON.stringify([
            { op: 'replace', path: '/spec/replicas', value: 1 },
            { op: 'add', path: '/spec/template/spec/hostNetwork', value: true },
            { op: 'remove', path: '/spec/template/spec/containers/0/ports' },
            { op: 'remove', path: '/spec/template/spec/containers/0/livenessProbe' },
            { op: 'remove', path: '/spec/template/spec/containers/0/readinessProbe' },
            { op: 'replace', path: '/spec/template/spec/containers/0/env', value: Object.entries(env).map(([name, value]) => ({ name, value: String(value) })) },
            { op: 'replace', path: '/spec/template/spec/volumes', value: Object.entries(volumes).map(([name, sub]) => hostPath(name, sub)) },
          ]),
        })),
      ],
    };
    writeFileSync(path.join(dir, 'kustomization.yaml'), JSON.stringify(kustomization, null, 2));
    const { stdout } = await run('kubectl', ['kustomize', dir], { timeout: minute });
    // podman 4.3 plays Deployments, ConfigMaps and Secrets only: the Job, PDBs, policies and
    // Services stay for a real cluster (the migration already ran through provisionDatabases).
    return stdout
      .split(/^---$/m)
      .filter((doc) => /^kind: (Deployment|ConfigMap)$/m.test(doc))
      .join('---\n');
  }
}

try {
  await main();
} catch (error) {
  console.error('deploy test failed:', error);
  await cleanUp();
  process.exitCode = 1;
} finally {
  clearTimeout(deadline);
}
// The Kafka client and the pools hold no handles after cleanUp; a stray one must not keep us alive.
setTimeout(() => process.exit(), 2_000).unref();
