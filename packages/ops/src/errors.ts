/** A dependency did not answer within the startup wait; the message names each and why. */
export class DependencyTimeoutError extends Error {
  readonly code = 'OPS_DEPENDENCY_TIMEOUT';
  constructor(message: string) {
    super(message);
    this.name = 'DependencyTimeoutError';
  }
}
