/** A tenant id that is not a UUID never reaches the database. */
export class InvalidTenantError extends Error {
  readonly code = 'DB_INVALID_TENANT';
  constructor() {
    super('tenant id must be a UUID');
    this.name = 'InvalidTenantError';
  }
}

/** A database URL whose TLS parameters cannot be followed: refused before any connection. */
export class InvalidDatabaseUrlError extends Error {
  readonly code = 'DB_INVALID_URL';
  constructor(detail: string) {
    super(`database URL: ${detail}`);
    this.name = 'InvalidDatabaseUrlError';
  }
}
