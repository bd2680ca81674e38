export { isTracing, startTracing, tracingRequested, type Tracing } from './tracing.ts';
export { contextOf, contextWith, endSpan, inSpan, startSpan, traceparentOf } from './spans.ts';
