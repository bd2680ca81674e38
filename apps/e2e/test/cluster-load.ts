import { randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import type postgres from 'postgres';
import { Agent, request } from 'undici';
import { certsDir, mintToken } from '@tenant-sync/testing';

/** A write a source acknowledged (2xx): the entity's version after it, and when it reached the copy. */
export interface AckedWrite {
  orgId: string;
  id: string;
  version: number;
  deleted: boolean;
  /** ms since the epoch. */
  ackedAt: number;
  /** When no outbox row at or below this version was left for the entity (polled), ms since the epoch. */
  publishedAt?: number;
  /** When the copy first held this version or a newer one (polled), ms since the epoch. */
  visibleAt?: number;
}

/** The last acknowledged state of an entity; `uncertain` when a write to it failed and may have committed all the same. */
export interface EntityState {
  orgId: string;
  version: number;
  deleted: boolean;
  uncertain: boolean;
}

export interface LoadOptions {
  /** Public ports of the source instances; requests take turns between them. */
  sourcePorts: number[];
  /** Tenant id → an admin subject of it. */
  tenants: Record<string, string>;
  writesPerSecond: number;
  /** Requests in flight at most. */
  concurrency: number;
}

const requestTimeoutMs = 30_000;

/**
 * Steady user writes through the sources' public API — creates, updates, deletes, at a fixed
 * rate whatever happens downstream — keeping every acknowledged write. One request at a time
 * per entity, so each acknowledged version is the entity's version at that moment; a failed
 * request marks its entity uncertain and it is not written again.
 */
export async function startLoad({ sourcePorts, tenants, writesPerSecond, concurrency }: LoadOptions) {
  const agent = new Agent({ connect: { ca: readFileSync(path.join(certsDir, 'ca.crt')) }, headersTimeout: requestTimeoutMs, bodyTimeout: requestTimeoutMs });
  const orgIds = Object.keys(tenants);
  const tokens = new Map<string, string>();
  for (const [orgId, subject] of Object.entries(tenants)) tokens.set(orgId, await mintToken({ orgId, subject, expiresIn: '30m' }));

  const writes: AckedWrite[] = [];
  const entities = new Map<string, EntityState>();
  // Entities no request is working on, per tenant.
  const idle = new Map<string, string[]>(orgIds.map((orgId) => [orgId, []]));
  const failures: string[] = [];
  let turn = 0;
  let requests = 0;
  let nextAt = Date.now();
  let stopping = false;

  async function send(orgId: string, method: 'POST' | 'PATCH' | 'DELETE', route: string, body?: object) {
    const port = sourcePorts[requests++ % sourcePorts.length]!;
    const response = await request(`https://localhost:${port}${route}`, {
      method,
      dispatcher: agent,
      headers: { authorization: `Bearer ${tokens.get(orgId)}`, ...(body ? { 'content-type': 'application/json' } : {}) },
      body: body ? JSON.stringify(body) : null,
    });
    const text = await response.body.text();
    if (response.statusCode >= 300) throw new Error(`${method} ${route} on :${port}: ${response.statusCode} ${text.slice(0, 200)}`);
    return text ? (JSON.parse(text) as { id: string; version: number }) : undefined;
  }

  const acknowledge = (orgId: string, id: string, version: number, deleted: boolean) => {
    writes.push({ orgId, id, version, deleted, ackedAt: Date.now() });
    entities.set(id, { orgId, version, deleted, uncertain: false });
  };

  async function writeOnce(): Promise<void> {
    const orgId = orgIds[turn % orgIds.length]!;
    turn += 1;
    const pool = idle.get(orgId)!;
    const roll = Math.random();
    if (pool.length < 30 || roll < 0.3) {
      const user = await send(orgId, 'POST', '/users', { name: 'Cluster User', email: `${randomUUID()}@cluster.test` });
      acknowledge(orgId, user!.id, user!.version, false);
      pool.push(user!.id);
      return;
    }
    const id = pool.splice(Math.floor(Math.random() * pool.length), 1)[0]!;
    const before = entities.get(id)!;
    try {
      if (roll < 0.85) {
        const user = await send(orgId, 'PATCH', `/users/${id}`, { name: `Cluster User ${turn}` });
        acknowledge(orgId, id, user!.version, false);
        pool.push(id);
      } else {
        await send(orgId, 'DELETE', `/users/${id}`);
        // The source's tombstone carries the version after the last one (008-tombstones.sql).
        acknowledge(orgId, id, before.version + 1, true);
      }
    } catch (error) {
      entities.set(id, { ...before, uncertain: true });
      throw error;
    }
  }

  async function worker(): Promise<void> {
    while (!stopping) {
      // Fixed pacing: a slow request delays its worker, not the schedule of the others.
      const at = Math.max(nextAt, Date.now());
      nextAt = at + 1000 / writesPerSecond;
      await sleep(Math.max(0, at - Date.now()));
      if (stopping) break;
      await writeOnce().catch((error: unknown) => failures.push((error as Error).message));
    }
  }

  const workers = Array.from({ length: concurrency }, () => worker());
  let stopped: Promise<void> | undefined;
  return {
    writes,
    entities,
    failures,
    /** Stops sending and resolves when every request in flight has its answer. */
    stop(): Promise<void> {
      stopping = true;
      return (stopped ??= Promise.all(workers).then(() => agent.close()));
    },
  };
}

export type Load = Awaited<ReturnType<typeof startLoad>>;

/**
 * Follows each acknowledged write down the pipeline by polling both databases: `publishedAt`
 * once its entity has no outbox row at or below its version left (a relay published it and
 * Kafka acknowledged), `visibleAt` once the copy holds its version or a newer one. Stops with
 * `stop()`.
 */
export function trackWrites(sourceAdmin: postgres.Sql, consumerAdmin: postgres.Sql, writes: AckedWrite[], intervalMs = 200) {
  let stopping = false;
  let checked = 0;
  const unpublished = new Set<AckedWrite>();
  const invisible = new Set<AckedWrite>();

  async function stampPublished(): Promise<void> {
    const rows = await sourceAdmin<Array<{ id: string; version: number }>>`
      SELECT aggregate_id AS id, min(version)::int AS version FROM outbox WHERE parked_at IS NULL GROUP BY aggregate_id`;
    const now = Date.now();
    const oldestPending = new Map(rows.map((row) => [row.id, row.version]));
    for (const write of unpublished) {
      if ((oldestPending.get(write.id) ?? Infinity) > write.version) {
        write.publishedAt = now;
        unpublished.delete(write);
      }
    }
  }

  async function stampVisible(): Promise<void> {
    const keys = [...new Map([...invisible].map((write) => [write.id, write.orgId]))];
    const rows = await consumerAdmin<Array<{ id: string; version: number }>>`
      SELECT copy.id, copy.version::int AS version
        FROM unnest(${keys.map(([, orgId]) => orgId)}::uuid[], ${keys.map(([id]) => id)}::uuid[]) AS wanted(org_id, id)
        JOIN synced_users copy USING (org_id, id)`;
    const now = Date.now();
    const copied = new Map(rows.map((row) => [row.id, row.version]));
    for (const write of invisible) {
      if ((copied.get(write.id) ?? 0) >= write.version) {
        write.visibleAt = now;
        invisible.delete(write);
        // In the copy, so published, even if between two polls of the outbox.
        if (unpublished.delete(write)) write.publishedAt = now;
      }
    }
  }

  const report = (error: unknown) => console.error(`write tracking poll failed: ${(error as Error).message}`);
  const loop = (async () => {
    while (!stopping) {
      for (; checked < writes.length; checked += 1) {
        unpublished.add(writes[checked]!);
        invisible.add(writes[checked]!);
      }
      if (unpublished.size > 0) await stampPublished().catch(report);
      if (invisible.size > 0) await stampVisible().catch(report);
      await sleep(intervalMs);
    }
  })();

  return {
    /** Writes acknowledged but not in the copy yet. */
    invisible: () => invisible.size + writes.length - checked,
    async stop(): Promise<void> {
      stopping = true;
      await loop;
    },
  };
}
