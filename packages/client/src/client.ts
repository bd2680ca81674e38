import { decodeJwt } from 'jose';
import { Agent, request, type Dispatcher } from 'undici';
import { isOrgId, TENANT_HEADER } from '@tenant-sync/contracts';
import { collectionCalls, type Api, type Method, type Send } from './collection.ts';
import { InvalidOrgIdError, InvalidResponseError, TenantMismatchError, TenantSyncApiError, type ApiErrorBody } from './errors.ts';
import { syncedTypes, type CollectionMethods } from './synced-types.ts';

/** A bearer token, or a function that returns the current one (called before every request). */
export type TokenSource = string | (() => string | Promise<string>);

export interface TenantSyncClientOptions {
  /** The public API, e.g. `https://localhost:8001`. */
  baseUrl: string;
  /** The consumer's cache API, e.g. `https://localhost:8002`; needed only for the `listCached…` and `cached…` calls. */
  cacheUrl?: string | undefined;
  /** PEM of the CA that signs the servers' certificates; the system's CAs when omitted. */
  ca?: string | Buffer | undefined;
  token: TokenSource;
  /** Per-request timeout for headers and body, in milliseconds. */
  timeoutMs?: number | undefined;
  /** A dispatcher of the caller's own; the client then creates no Agent and closes none. */
  dispatcher?: Dispatcher | undefined;
}

/** The client's own part: its options, the checks before a request and the request; `collectionCalls` adds the calls. */
class Client {
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
    const send: Send = (api, orgId, method, path, body) => this.#send(api, orgId, method, path, body);
    for (const [entity, { collection }] of Object.entries(syncedTypes)) Object.assign(this, collectionCalls(entity, collection, send));
  }

  /** Closes the connections of the client's own Agent. */
  async close(): Promise<void> {
    if (this.#ownsDispatcher) await this.#dispatcher.close();
  }

  async #send(api: Api, orgId: string, method: Method, path: string, body?: object): Promise<unknown> {
    const base = api === 'cache' ? this.#cacheUrl : this.#baseUrl;
    if (!base) throw new Error(`${method} ${path}: the cache API needs the cacheUrl option`);
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

/**
 * A typed client of the public API (:8001) and the cache API (:8002), with the calls of every
 * type in `syncedTypes` (`createUser`, `listCachedTeams`, …). Every call names the org it acts
 * for; before anything is sent the client checks that it is a UUID and the `org_id` of the token
 * it holds, and sends it as `X-Tenant-ID`. Every item a response carries must belong to that org,
 * or the whole call fails: nothing of another tenant, or of none, is ever returned. The token is
 * decoded, not verified — the server verifies it.
 */
export type TenantSyncClient = Client & CollectionMethods;
/** `new TenantSyncClient(options)`: a client with the calls of every synced type. */
export const TenantSyncClient = Client as new (options: TenantSyncClientOptions) => TenantSyncClient;

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
