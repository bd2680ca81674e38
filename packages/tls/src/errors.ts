/** Certificates or keys that cannot be used; the message says which file and why. */
export class TlsMaterialError extends Error {
  readonly code = 'TLS_MATERIAL_INVALID';
  constructor(message: string) {
    super(message);
    this.name = 'TlsMaterialError';
  }
}
