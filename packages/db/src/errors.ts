/** A tenant id that is not a UUID never reaches the database. */
export class InvalidTenantError extends Error {
  readonly code = 'DB_INVALID_TENANT';
  constructor() {
    super('tenant id must be a UUID');
    this.name = 'InvalidTenantError';
  }
}
