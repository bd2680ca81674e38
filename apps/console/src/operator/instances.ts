import { splitList } from '@tenant-sync/config';

/** One app instance and what its /health/ready said. */
export interface InstanceHealth {
  name: string;
  url: string;
  state: 'ready' | 'not ready' | 'unreachable';
  /** The checks it named, when it answered: `{postgres: 'ok', kafka: 'failing'}`. */
  checks: Record<string, string>;
}

/** `name=url` pairs of CONSOLE_INSTANCES. */
export function parseInstances(value: string): Array<{ name: string; url: string }> {
  return splitList(value).map((pair) => {
    const at = pair.indexOf('=');
    return { name: pair.slice(0, at), url: pair.slice(at + 1).replace(/\/+$/, '') };
  });
}

/** Asks every instance's operations port for /health/ready, each within `timeoutMs`. */
export function instancesHealth(instances: ReadonlyArray<{ name: string; url: string }>, timeoutMs = 2_000): Promise<InstanceHealth[]> {
  return Promise.all(
    instances.map(async ({ name, url }): Promise<InstanceHealth> => {
      try {
        const response = await fetch(`${url}/health/ready`, { signal: AbortSignal.timeout(timeoutMs), redirect: 'error' });
        const body = (await response.json().catch(() => ({}))) as { checks?: unknown };
        const checks = typeof body.checks === 'object' && body.checks !== null ? Object.fromEntries(Object.entries(body.checks).map(([check, state]) => [check, String(state)])) : {};
        return { name, url, state: response.status === 200 ? 'ready' : 'not ready', checks };
      } catch {
        return { name, url, state: 'unreachable', checks: {} };
      }
    }),
  );
}
