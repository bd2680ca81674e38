import { randomBytes } from 'node:crypto';

/** One hop of a W3C trace: the trace every hop shares, and this hop's own span. */
export interface TraceContext {
  traceId: string;
  spanId: string;
  /** The `traceparent` header naming this hop as the parent of the next. */
  traceparent: string;
}

const header = /^00-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})$/;
const allZero = /^0+$/;

/** The trace id and flags of a well-formed version-00 `traceparent`, or null. */
export function parseTraceparent(value: unknown): { traceId: string; parentId: string; flags: string } | null {
  if (typeof value !== 'string') return null;
  const match = header.exec(value.trim());
  if (!match) return null;
  const [, traceId, parentId, flags] = match as unknown as [string, string, string, string];
  if (allZero.test(traceId) || allZero.test(parentId)) return null;
  return { traceId, parentId, flags };
}

/**
 * This hop's trace context: a new span in the caller's trace when `parent` is a valid
 * `traceparent`, else the first span of a new, sampled trace.
 */
export function continueTrace(parent: unknown): TraceContext {
  const parsed = parseTraceparent(parent);
  const traceId = parsed?.traceId ?? randomBytes(16).toString('hex');
  const spanId = randomBytes(8).toString('hex');
  return { traceId, spanId, traceparent: `00-${traceId}-${spanId}-${parsed?.flags ?? '01'}` };
}
