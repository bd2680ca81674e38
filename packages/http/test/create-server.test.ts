import { readFileSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { connect } from 'node:tls';
import { Writable } from 'node:stream';
import { fileURLToPath } from 'node:url';
import { trace } from '@opentelemetry/api';
import pino from 'pino';
import { Registry } from 'prom-client';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { Type } from 'typebox';
import { startOtlpReceiver } from '@tenant-sync/testing';
import { startTracing, traceparentOf } from '@tenant-sync/tracing';
import { createHttpsServer, type HttpsServerOptions } from '../src/index.ts';

const certs = fileURLToPath(new URL('../../../certs/', import.meta.url));
const material = { key: readFileSync(`${certs}source.key`), cert: readFileSync(`${certs}source.crt`), ca: readFileSync(`${certs}ca.crt`) };
const https = { key: material.key, cert: material.cert };
const openapi = { title: 'test API', description: 'for the tests' };

function captureLogs() {
  const lines: Record<string, unknown>[] = [];
  const destination = new Writable({
    write(chunk: Buffer, _encoding, done) {
      for (const line of chunk.toString().split('\n').filter(Boolean)) lines.push(JSON.parse(line) as Record<string, unknown>);
      done();
    },
  });
  return { lines, logger: pino({ level: 'info' }, destination) };
}

let app: Awaited<ReturnType<typeof createHttpsServer>> | undefined;
afterEach(async () => {
  await app?.close();
  app = undefined;
});

async function build(options: Partial<HttpsServerOptions> & Pick<HttpsServerOptions, 'logger'>) {
  app = await createHttpsServer({ listener: 'public', https, openapi, ...options });
  app.get('/things/:id', { schema: { params: Type.Object({ id: Type.String({ format: 'uuid' }) }) } }, async (request) => {
    request.log.info('handling');
    return { id: request.params.id, traceparent: traceparentOf(trace.getSpan(request.trace)!) };
  });
  return app;
}

describe('createHttpsServer', () => {
  it('continues the caller trace and puts reqId and traceId on every line of the request', async () => {
    const { lines, logger } = captureLogs();
    const server = await build({ logger });
    const parent = '00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01';
    const response = await server.inject({
      url: '/things/6f1c1f5e-7c38-4a53-9a49-3ad5d0f1f0a1',
      headers: { traceparent: parent, 'x-request-id': 'req-42' },
    });
    expect(response.statusCode).toBe(200);
    const { traceparent } = response.json<{ traceparent: string }>();
    expect(traceparent).toMatch(/^00-4bf92f3577b34da6a3ce929d0e0e4736-[0-9a-f]{16}-01$/);
    expect(traceparent).not.toBe(parent);

    const requestLines = lines.filter((line) => line.reqId === 'req-42');
    expect(requestLines.map((line) => line.msg)).toEqual(['incoming request', 'handling', 'request completed']);
    for (const line of requestLines) expect(line.traceId).toBe('4bf92f3577b34da6a3ce929d0e0e4736');
  });

  it('starts a trace when the caller sent none', async () => {
    const server = await build({ logger: captureLogs().logger });
    const response = await server.inject({ url: '/things/6f1c1f5e-7c38-4a53-9a49-3ad5d0f1f0a1' });
    expect(response.json<{ traceparent: string }>().traceparent).toMatch(/^00-[0-9a-f]{32}-[0-9a-f]{16}-01$/);
  });

  it('records a server span per request when the SDK runs: route, status, the caller as parent, a 5xx as an error', async () => {
    const receiver = await startOtlpReceiver();
    vi.stubEnv('OTEL_EXPORTER_OTLP_ENDPOINT', receiver.url);
    vi.stubEnv('OTEL_EXPORTER_OTLP_PROTOCOL', 'http/json');
    try {
      const tracing = await startTracing('http-test');
      const server = await build({ logger: captureLogs().logger });
      server.get('/broken', async () => {
        throw new Error('database gone');
      });
      const response = await server.inject({
        url: '/things/6f1c1f5e-7c38-4a53-9a49-3ad5d0f1f0a1?limit=5',
        headers: { traceparent: '00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01' },
      });
      const { traceparent } = response.json<{ traceparent: string }>();
      expect((await server.inject({ url: '/broken' })).statusCode).toBe(500);
      await tracing.shutdown();

      const [thing, broken] = ['GET /things/:id', 'GET /broken'].map((name) => receiver.spans().find((span) => span.name === name));
      expect(thing).toMatchObject({
        kind: 2,
        traceId: '4bf92f3577b34da6a3ce929d0e0e4736',
        spanId: traceparent.split('-')[2],
        parentSpanId: '00f067aa0ba902b7',
        attributes: { 'http.request.method': 'GET', 'http.route': '/things/:id', 'url.path': '/things/6f1c1f5e-7c38-4a53-9a49-3ad5d0f1f0a1', 'http.response.status_code': 200 },
        status: { code: 0 },
      });
      expect(broken).toMatchObject({ parentSpanId: '', attributes: { 'http.response.status_code': 500 }, status: { code: 2 } });
      expect(broken?.events.map((event) => event.attributes['exception.message'])).toEqual(['database gone']);
    } finally {
      vi.unstubAllEnvs();
      await receiver.close();
    }
  });

  it('serves the OpenAPI document generated from the route schemas', async () => {
    const server = await build({ logger: captureLogs().logger });
    const response = await server.inject({ url: '/docs/json' });
    expect(response.statusCode).toBe(200);
    const document = response.json<{ info: { title: string }; paths: Record<string, unknown> }>();
    expect(document.info.title).toBe('test API');
    expect(Object.keys(document.paths)).toEqual(['/things/{id}']);
  });

  it('counts requests by route template, not by URL', async () => {
    const registry = new Registry();
    const server = await build({ logger: captureLogs().logger, metrics: registry });
    await server.inject({ url: '/things/6f1c1f5e-7c38-4a53-9a49-3ad5d0f1f0a1' });
    await server.inject({ url: '/things/not-a-uuid' });
    await server.inject({ url: '/nowhere/6f1c1f5e-7c38-4a53-9a49-3ad5d0f1f0a1' });
    const text = await registry.metrics();
    expect(text).toContain('http_request_duration_seconds_count{listener="public",method="GET",route="/things/:id",status="200"} 1');
    expect(text).toContain('http_request_duration_seconds_count{listener="public",method="GET",route="/things/:id",status="400"} 1');
    expect(text).toContain('http_request_duration_seconds_count{listener="public",method="GET",route="unmatched",status="404"} 1');
    expect(text).not.toContain('6f1c1f5e');
  });

  it('sheds load with 503 and Retry-After while the event loop is blocked', async () => {
    const server = await build({
      logger: captureLogs().logger,
      pressure: { maxEventLoopDelayMs: 50, maxEventLoopUtilization: 0.99, sampleIntervalMs: 10 },
    });
    await server.ready();
    const url = '/things/6f1c1f5e-7c38-4a53-9a49-3ad5d0f1f0a1';
    expect((await server.inject({ url })).statusCode).toBe(200);

    const until = Date.now() + 300;
    while (Date.now() < until) {
      // a handler that hogs the loop
    }
    await new Promise((resolve) => setTimeout(resolve, 30));
    const shed = await server.inject({ url });
    expect(shed.statusCode).toBe(503);
    expect(shed.headers['retry-after']).toBe('5');
    expect(shed.json()).toMatchObject({ statusCode: 503, error: 'Service Unavailable' });
  });
});

describe('the socket limits of every listener', () => {
  const listen = async (options: Partial<HttpsServerOptions> = {}) => {
    const server = await build({ logger: pino({ level: 'silent' }), ...options });
    server.post('/echo', async (request) => request.body);
    await server.listen({ host: '127.0.0.1', port: 0 });
    return (server.server.address() as AddressInfo).port;
  };
  it('cuts off a body trickled slower than the request timeout', async () => {
    const port = await listen({ timeouts: { requestMs: 1_000, keepAliveMs: 1_000 } });
    const started = Date.now();
    const outcome = await new Promise<string>((resolve) => {
      const socket = connect({ host: '127.0.0.1', port, servername: 'localhost', ca: material.ca }, () => {
        socket.write('POST /echo HTTP/1.1\r\nhost: localhost\r\ncontent-type: application/json\r\ncontent-length: 1000\r\n\r\n{');
        const trickle = setInterval(() => socket.write(' '), 200);
        let answer = '';
        socket.on('data', (chunk: Buffer) => (answer += chunk.toString()));
        socket.once('close', () => {
          clearInterval(trickle);
          resolve(answer.split('\r\n')[0] ?? '');
        });
      });
      socket.once('error', () => {});
      setTimeout(() => resolve('still open after 10 s'), 10_000).unref();
    });
    expect(outcome).not.toBe('still open after 10 s');
    expect(outcome === '' || outcome.startsWith('HTTP/1.1 408')).toBe(true);
    expect(Date.now() - started).toBeLessThan(5_000);
  });
});
