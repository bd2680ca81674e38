import { setFlagsFromString } from 'node:v8';

/**
 * Turns off V8's allocation-site pretenuring for this process; the source, the relay and the
 * consumer call it first thing. V8 watches where objects are allocated, and a site whose
 * objects mostly survive a young-generation collection is made to allocate straight into the
 * old generation. A backlog (a drain, an import) teaches it exactly that: references queue
 * for seconds in lanes and batches. Once the backlog is gone, the same sites make objects that
 * die within a round, and they now fill the old generation, whose collections stop the event
 * loop for 90–120 ms on a busy two-core machine. Without pretenuring they die young, in the
 * scavenges that a round's garbage needs anyway (BENCHMARKS.md, 2026-11-27).
 *
 * Set in code, not on the command line, so that it holds wherever the app starts: `nx serve`,
 * the tests, the image and Kubernetes run the same `main.ts`.
 */
export function keepShortLivedObjectsYoung(): void {
  setFlagsFromString('--no-allocation-site-pretenuring');
}
