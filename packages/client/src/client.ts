import { decodeJwt } from 'jose';
import { Agent, request, type Dispatcher } from 'undici';
import { isOrgId, TENANT_HEADER, type CreateUserBody, type UpdateUserBody, type User } from '@tenant-sync/contracts';
import { InvalidOrgIdError, InvalidResponseError, TenantMismatchError, TenantSyncApiError, type ApiErrorBody } from './errors.ts';

/** A bearer token, or a function that returns the current one (called before every request). */
export type TokenSource = string | (() => string | Promise<string>);

export interface TenantSyncClientOptions {
  /** The public users API, e.g. `https://localhost:8001`. */
  baseUrl: string;
  /** The consumer's cache API, e.g. `https://localhost:8002`; needed only for `listCachedUsers`. */
  cacheUrl?: string | undefined;
  /** PEM of the CA that signs the servers' certificates; the system's CAs when omitted. */
  ca?: string | Buffer | undefined;
  token: TokenSource;
  /** Per-request timeout for headers and body, in milliseconds. */
  timeoutMs?: number | undefined;
  /** A dispatcher of the caller's own; the client then creates no Agent and closes none. */
  dispatcher?: Dispatcher | undefined;
}

export interface PageOptions {
  limit?: number | undefined;
  cursor?: string | undefined;
}

export interface UserPage {
  items: User[];
  nextCursor: string | null;
}

type Method = 'GET' | 'POST' | 'PATCH' | 'DELETE';

/**
 * A typed client of the public users API (:8001) and the cache API (:8002). Every call names
 * the org it acts for; before anything is sent the client checks that it is a UUID and the
 * `org_id` of the token it holds, and sends it as `X-Tenant-ID`. Every item a response carries
 * must belong to that org, or the whole call fails: nothing of another tenant, or of none, is
 * ever returned. The token is decoded, not verified — the server verifies it.
 */
export class TenantSyncClient {
  readonly #baseUrl: URL;
  readonly #cacheUrl: URL | undefined;
  readonly #token: TokenSource;
  readonly #timeoutMs: number;
  readonly #dispatcher: Dispatcher;
  readonly #ownsDispatcher: boolean;

  constructor(options: TenantSyncClientOptions) {
    this.#baseUrl = new URL(options.baseUrl);
    this.#cacheUrl = options.cacheUrl ? new URL(options.cacheUrl) : undefined;
    this.#token = options.token;
    this.#timeoutMs = options.timeoutMs ?? 10_000;
    this.#ownsDispatcher = !options.dispatcher;
    // rejectUnauthorized stays at its default (true): the server certificate and its name are verified.
    this.#dispatcher = options.dispatcher ?? new Agent({ connect: options.ca ? { ca: options.ca } : {} });
  }

  /** Creates a user in `orgId` (the token's subject must be its `tenant_admin`). */
  async createUser(orgId: string, user: CreateUserBody): Promise<User> {
    return ownUser(orgId, await this.#send(this.#baseUrl, orgId, 'POST', '/users', user));
  }

  /** One user of `orgId`; a `TenantSyncApiError` with status 404 when it is not there (or is another tenant's). */
  async getUser(orgId: string, id: string): Promise<User> {
    return ownUser(orgId, await this.#send(this.#baseUrl, orgId, 'GET', `/users/${encodeURIComponent(id)}`));
  }

  /** One page of the users of `orgId`. */
  async listUsers(orgId: string, page: PageOptions = {}): Promise<UserPage> {
    return ownPage(orgId, await this.#send(this.#baseUrl, orgId, 'GET', `/users${pageQuery(page)}`));
  }

  /** Every user of `orgId`, fetched page by page as the iteration proceeds. */
  users(orgId: string, pageSize = 100): AsyncGenerator<User> {
    return paginate((cursor) => this.listUsers(orgId, { limit: pageSize, cursor }));
  }

  /** Changes some fields of a user of `orgId`. */
  async updateUser(orgId: string, id: string, changes: UpdateUserBody): Promise<User> {
    return ownUser(orgId, await this.#send(this.#baseUrl, orgId, 'PATCH', `/users/${encodeURIComponent(id)}`, changes));
  }

  /** Deletes a user of `orgId`. */
  async deleteUser(orgId: string, id: string): Promise<void> {
    await this.#send(this.#baseUrl, orgId, 'DELETE', `/users/${encodeURIComponent(id)}`);
  }

  /** One page of the users of `orgId` as the consumer has synced them. */
  async listCachedUsers(orgId: string, page: PageOptions = {}): Promise<UserPage> {
    if (!this.#cacheUrl) throw new Error('listCachedUsers needs the cacheUrl option');
    return ownPage(orgId, await this.#send(this.#cacheUrl, orgId, 'GET', `/cache/users${pageQuery(page)}`));
  }

  /** Every synced user of `orgId`, page by page. */
  cachedUsers(orgId: string, pageSize = 100): AsyncGenerator<User> {
    return paginate((cursor) => this.listCachedUsers(orgId, { limit: pageSize, cursor }));
  }

  /** Closes the connections of the client's own Agent. */
  async close(): Promise<void> {
    if (this.#ownsDispatcher) await this.#dispatcher.close();
  }

  async #send(base: URL, orgId: string, method: Method, path: string, body?: object): Promise<unknown> {
    const tenant = await this.#authorise(orgId);
    const response = await request(new URL(path, base), {
      method,
      dispatcher: this.#dispatcher,
      headers: {
        authorization: `Bearer ${tenant.token}`,
        [TENANT_HEADER]: tenant.orgId,
        accept: 'application/json',
        ...(body ? { 'content-type': 'application/json' } : {}),
      },
      body: body ? JSON.stringify(body) : null,
      headersTimeout: this.#timeoutMs,
      bodyTimeout: this.#timeoutMs,
    });
    const text = await response.body.text();
    if (response.statusCode >= 400) throw new TenantSyncApiError(response.statusCode, parseErrorBody(text));
    if (response.statusCode === 204) return undefined;
    try {
      return JSON.parse(text) as unknown;
    } catch {
      throw new InvalidResponseError(`${method} ${path} answered ${response.statusCode} with a body that is not JSON`);
    }
  }

  /** The checks made before anything leaves the process. */
  async #authorise(orgId: string): Promise<{ orgId: string; token: string }> {
    if (!isOrgId(orgId)) throw new InvalidOrgIdError();
    const token = typeof this.#token === 'function' ? await this.#token() : this.#token;
    let claim: unknown;
    try {
      claim = decodeJwt(token).org_id;
    } catch {
      throw new TenantMismatchError('the token is not a readable JWT');
    }
    if (!isOrgId(claim)) throw new TenantMismatchError('the token carries no valid org_id');
    if (claim.toLowerCase() !== orgId.toLowerCase()) throw new TenantMismatchError('the token acts for another org than the one asked for');
    return { orgId: orgId.toLowerCase(), token };
  }
}

function pageQuery({ limit, cursor }: PageOptions): string {
  const query = new URLSearchParams();
  if (limit !== undefined) query.set('limit', String(limit));
  if (cursor) query.set('cursor', cursor);
  const text = query.toString();
  return text ? `?${text}` : '';
}

async function* paginate(fetchPage: (cursor: string | undefined) => Promise<UserPage>): AsyncGenerator<User> {
  let cursor: string | undefined;
  do {
    const page = await fetchPage(cursor);
    yield* page.items;
    cursor = page.nextCursor ?? undefined;
  } while (cursor);
}

/** `value` as a user of `orgId`, or an error: an item without that org id is never handed out. */
function ownUser(orgId: string, value: unknown): User {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) throw new InvalidResponseError('expected a user object');
  const item = value as Record<string, unknown>;
  if (!isOrgId(item.orgId)) throw new InvalidResponseError('a user in the response has no valid orgId');
  if (item.orgId.toLowerCase() !== orgId.toLowerCase()) throw new InvalidResponseError('a user in the response belongs to another org');
  if (typeof item.id !== 'string') throw new InvalidResponseError('a user in the response has no id');
  return item as unknown as User;
}

function ownPage(orgId: string, value: unknown): UserPage {
  const page = value as { items?: unknown; nextCursor?: unknown } | null;
  if (!page || !Array.isArray(page.items)) throw new InvalidResponseError('expected a page {items, nextCursor}');
  if (page.nextCursor !== null && typeof page.nextCursor !== 'string') throw new InvalidResponseError('nextCursor must be a string or null');
  return { items: page.items.map((item) => ownUser(orgId, item)), nextCursor: page.nextCursor };
}

function parseErrorBody(text: string): ApiErrorBody | undefined {
  try {
    const body = JSON.parse(text) as Partial<ApiErrorBody>;
    if (typeof body.statusCode === 'number' && typeof body.message === 'string') {
      return { statusCode: body.statusCode, code: String(body.code ?? ''), error: String(body.error ?? ''), message: body.message };
    }
  } catch {
    // not JSON: the status alone says what happened
  }
  return undefined;
}
