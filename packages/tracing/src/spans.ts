import { randomFillSync } from 'node:crypto';
import {
  context as contexts,
  defaultTextMapGetter,
  isSpanContextValid,
  ROOT_CONTEXT,
  SpanStatusCode,
  trace,
  TraceFlags,
  type Context,
  type Span,
  type SpanOptions,
} from '@opentelemetry/api';
import { W3CTraceContextPropagator } from '@opentelemetry/core';
import { sdkTracer } from './tracing.ts';

/**
 * `traceparent` is the one carrier of a trace between the apps (HTTP header, outbox column,
 * Kafka header: DESIGN.md); what arrives is parsed and checked by the W3C propagator, whether
 * or not the SDK runs.
 */
const w3c = new W3CTraceContextPropagator();

/** The trace a `traceparent` (header, outbox column) names; the root context when it names none or a malformed one. */
export function contextOf(traceparent: string | readonly string[] | null | undefined): Context {
  if (!traceparent) return ROOT_CONTEXT;
  return w3c.extract(ROOT_CONTEXT, { traceparent }, defaultTextMapGetter);
}

/**
 * The version-00 `traceparent` that names `span` as the parent of the next hop: what the W3C
 * propagator writes, formatted directly because the relay writes one per row.
 */
export function traceparentOf(span: Span): string {
  const { traceId, spanId, traceFlags } = span.spanContext();
  return `00-${traceId}-${spanId}-${traceFlags & TraceFlags.SAMPLED ? '01' : '00'}`;
}

/** The context in which the children of `span` start. */
export function contextWith(span: Span, parent: Context = ROOT_CONTEXT): Context {
  return trace.setSpan(parent, span);
}

/**
 * Starts span `name` as a child of `parent` (the active context when omitted). While the SDK
 * records, it is a real span; otherwise a non-recording one that still has a fresh span id in
 * the parent's trace, or in a new trace, so log lines and outbox rows name a trace whether or
 * not spans are exported. Per-row code asks `isTracing()` first instead.
 */
export function startSpan(name: string, parent: Context = contexts.active(), options?: SpanOptions): Span {
  const tracer = sdkTracer();
  if (tracer) return tracer.startSpan(name, options, parent);
  const caller = trace.getSpanContext(parent);
  const continued = caller && isSpanContextValid(caller) ? caller : undefined;
  return trace.wrapSpanContext({
    traceId: continued?.traceId ?? randomHex(16),
    spanId: randomHex(8),
    traceFlags: continued?.traceFlags ?? TraceFlags.SAMPLED,
  });
}

// Random bytes drawn 4 KiB at a time: one `randomBytes` call per id costs several microseconds.
const randomPool = Buffer.alloc(4096);
let randomUsed = randomPool.length;

function randomHex(bytes: number): string {
  if (randomUsed + bytes > randomPool.length) {
    randomFillSync(randomPool);
    randomUsed = 0;
  }
  randomUsed += bytes;
  return randomPool.toString('hex', randomUsed - bytes, randomUsed);
}

/** Ends `span`; an error marks it failed and is recorded on it (type, message, stack). */
export function endSpan(span: Span, error?: unknown): void {
  if (error !== undefined && span.isRecording()) {
    span.recordException(error instanceof Error ? error : String(error));
    span.setStatus({ code: SpanStatusCode.ERROR, message: error instanceof Error ? error.message : String(error) });
  }
  span.end();
}

/** Runs `work` in span `name`, a child of `parent`, and ends the span when `work` settles. */
export async function inSpan<T>(name: string, parent: Context | undefined, options: SpanOptions, work: (span: Span) => Promise<T>): Promise<T> {
  const span = startSpan(name, parent, options);
  try {
    const result = await work(span);
    span.end();
    return result;
  } catch (error) {
    endSpan(span, error);
    throw error;
  }
}
