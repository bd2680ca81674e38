import net from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';

/** True when something accepts TCP connections on host:port within `timeoutMs`. */
export function isPortOpen(port: number, host = '127.0.0.1', timeoutMs = 500): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = net.connect({ port, host });
    const done = (open: boolean) => {
      socket.destroy();
      resolve(open);
    };
    socket.setTimeout(timeoutMs, () => done(false));
    socket.once('connect', () => done(true));
    socket.once('error', () => done(false));
  });
}

/**
 * Ports below the kernel's ephemeral range (32768–60999 on Linux) and above the ones this
 * system and its engines listen on by default. A port from `listen(0)` comes out of the
 * ephemeral range, where the kernel may hand it to an outgoing connection's local end
 * before the process it was meant for binds it (EADDRINUSE); a port from this range is only
 * ever taken by another `freePort` caller, which a random pick makes unlikely.
 */
const PICK_FROM = 20_000;
const PICK_TO = 32_767;

/** A TCP port that was free a moment ago, outside the kernel's ephemeral range. */
export async function freePort(): Promise<number> {
  for (let attempt = 0; attempt < 50; attempt++) {
    const port = PICK_FROM + Math.floor(Math.random() * (PICK_TO - PICK_FROM + 1));
    if (await canListen(port)) return port;
  }
  throw new Error(`no free TCP port found between ${PICK_FROM} and ${PICK_TO}`);
}

function canListen(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const server = net.createServer();
    server.once('error', () => resolve(false));
    server.listen(port, '127.0.0.1', () => server.close(() => resolve(true)));
  });
}

/** Polls `check` until it is true; throws after `timeoutMs` with `what` in the message. */
export async function waitFor(what: string, check: () => Promise<boolean>, timeoutMs: number, intervalMs = 250): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (await check()) return;
    await sleep(intervalMs);
  }
  throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
}

/** host and port of the first entry of a comma-separated broker list. */
export function firstHostPort(list: string): { host: string; port: number } {
  const [first = ''] = list.split(',');
  const index = first.lastIndexOf(':');
  return { host: first.slice(0, index) || '127.0.0.1', port: Number(first.slice(index + 1)) };
}
