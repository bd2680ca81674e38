import { trace } from '@opentelemetry/api';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { startOtlpReceiver } from '@tenant-sync/testing';
import { contextOf, contextWith, endSpan, isTracing, startSpan, startTracing, traceparentOf, tracingRequested } from '../src/index.ts';

const parent = '00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01';

afterEach(() => {
  vi.unstubAllEnvs();
});

describe('startTracing', () => {
  it('starts no SDK when no OTLP endpoint is set: the API stays a no-op, yet spans still carry trace ids', async () => {
    vi.stubEnv('OTEL_EXPORTER_OTLP_ENDPOINT', undefined);
    vi.stubEnv('OTEL_EXPORTER_OTLP_TRACES_ENDPOINT', undefined);
    const tracing = await startTracing('test');
    expect(tracing.enabled).toBe(false);
    expect(isTracing()).toBe(false);
    expect(trace.getTracer('probe').startSpan('probe').isRecording()).toBe(false);

    const continued = startSpan('hop', contextOf(parent));
    expect(continued.isRecording()).toBe(false);
    expect(traceparentOf(continued)).toMatch(/^00-4bf92f3577b34da6a3ce929d0e0e4736-[0-9a-f]{16}-01$/);
    expect(traceparentOf(continued)).not.toBe(parent);
    for (const given of [undefined, '', 'garbage', `${parent}-extra`, '00-00000000000000000000000000000000-00f067aa0ba902b7-01', ["' or 1=1 --"]]) {
      expect(trace.getSpanContext(contextOf(given))).toBeUndefined();
      const first = traceparentOf(startSpan('first hop', contextOf(given)));
      expect(first).toMatch(/^00-[0-9a-f]{32}-[0-9a-f]{16}-01$/);
      expect(first).not.toContain('4bf92f3577b34da6a3ce929d0e0e4736');
    }
    await tracing.shutdown();
  });

  it('is asked for by an OTLP endpoint, unless the standard variables turn it off', () => {
    expect(tracingRequested({})).toBe(false);
    expect(tracingRequested({ OTEL_EXPORTER_OTLP_ENDPOINT: 'http://collector:4318' })).toBe(true);
    expect(tracingRequested({ OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: 'http://collector:4318/v1/traces' })).toBe(true);
    expect(tracingRequested({ OTEL_EXPORTER_OTLP_ENDPOINT: 'http://collector:4318', OTEL_SDK_DISABLED: 'true' })).toBe(false);
    expect(tracingRequested({ OTEL_EXPORTER_OTLP_ENDPOINT: 'http://collector:4318', OTEL_TRACES_EXPORTER: 'none' })).toBe(false);
  });

  it('exports spans over OTLP when the endpoint is set, as children of the caller trace, and flushes them on shutdown', async () => {
    const receiver = await startOtlpReceiver();
    vi.stubEnv('OTEL_EXPORTER_OTLP_ENDPOINT', receiver.url);
    vi.stubEnv('OTEL_EXPORTER_OTLP_PROTOCOL', 'http/json');
    vi.stubEnv('OTEL_SERVICE_NAME', undefined);
    try {
      const tracing = await startTracing('test-app');
      expect(tracing.enabled).toBe(true);
      expect(isTracing()).toBe(true);
      const outer = startSpan('outer', contextOf(parent));
      const inner = startSpan('inner', contextWith(outer));
      expect(inner.isRecording()).toBe(true);
      endSpan(inner, new Error('refused'));
      endSpan(outer);
      await tracing.shutdown();
      expect(isTracing()).toBe(false);

      const spans = receiver.spans();
      expect(spans.map((span) => span.name).sort()).toEqual(['inner', 'outer']);
      const [outerSpan, innerSpan] = ['outer', 'inner'].map((name) => spans.find((span) => span.name === name)!);
      expect(outerSpan).toMatchObject({ service: 'test-app', traceId: '4bf92f3577b34da6a3ce929d0e0e4736', parentSpanId: '00f067aa0ba902b7' });
      expect(innerSpan).toMatchObject({ traceId: outerSpan!.traceId, parentSpanId: outerSpan!.spanId, status: { code: 2, message: 'refused' } });
      expect(innerSpan!.events.map((event) => event.name)).toEqual(['exception']);
    } finally {
      await receiver.close();
    }
  });

  it('takes the service name from OTEL_SERVICE_NAME when it is set', async () => {
    const receiver = await startOtlpReceiver();
    vi.stubEnv('OTEL_EXPORTER_OTLP_TRACES_ENDPOINT', `${receiver.url}/v1/traces`);
    vi.stubEnv('OTEL_EXPORTER_OTLP_PROTOCOL', 'http/json');
    vi.stubEnv('OTEL_SERVICE_NAME', 'source-eu-1');
    try {
      const tracing = await startTracing('source');
      startSpan('work').end();
      await tracing.shutdown();
      expect(receiver.spans().map((span) => span.service)).toEqual(['source-eu-1']);
    } finally {
      await receiver.close();
    }
  });

  it('stops within its few seconds, without throwing, when the collector cannot be reached', async () => {
    const receiver = await startOtlpReceiver();
    const gone = receiver.url;
    await receiver.close();
    vi.stubEnv('OTEL_EXPORTER_OTLP_ENDPOINT', gone);
    vi.stubEnv('OTEL_EXPORTER_OTLP_PROTOCOL', 'http/json');
    const tracing = await startTracing('test-app');
    startSpan('lost').end();
    const started = performance.now();
    await expect(tracing.shutdown()).resolves.toBeUndefined();
    expect(performance.now() - started).toBeLessThan(6_000);
    expect(isTracing()).toBe(false);
  });
});
