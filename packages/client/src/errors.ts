/** JSON error body every tenant-sync API answers with; `code` is stable per cause (e.g. `SRC_DUPLICATE_EMAIL`). */
export interface ApiErrorBody {
  statusCode: number;
  code: string;
  error: string;
  message: string;
}

/** The client refused to send: the org id is not a UUID. Nothing was sent. */
export class InvalidOrgIdError extends Error {
  readonly code = 'CLIENT_INVALID_ORG_ID';
  constructor() {
    super('org id must be a UUID');
    this.name = 'InvalidOrgIdError';
  }
}

/** The client refused to send: its token is unreadable or acts for another org. Nothing was sent. */
export class TenantMismatchError extends Error {
  readonly code = 'CLIENT_TENANT_MISMATCH';
  constructor(message: string) {
    super(message);
    this.name = 'TenantMismatchError';
  }
}

/** The server answered with data the client will not hand out: an item without the caller's org id, or the wrong shape. */
export class InvalidResponseError extends Error {
  readonly code = 'CLIENT_INVALID_RESPONSE';
  constructor(message: string) {
    super(message);
    this.name = 'InvalidResponseError';
  }
}

/** The server refused the request; `body` is its JSON error when it sent one. */
export class TenantSyncApiError extends Error {
  readonly code = 'CLIENT_API_ERROR';
  readonly status: number;
  readonly body: ApiErrorBody | undefined;
  constructor(status: number, body: ApiErrorBody | undefined) {
    super(body?.message ? `${status} ${body.error}: ${body.message}` : `request failed with status ${status}`);
    this.name = 'TenantSyncApiError';
    this.status = status;
    this.body = body;
  }
}
