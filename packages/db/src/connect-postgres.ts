import { readFileSync } from 'node:fs';
import { checkServerIdentity, type ConnectionOptions } from 'node:tls';
import postgres from 'postgres';
import { InvalidDatabaseUrlError } from './errors.ts';

const sslModes = ['disable', 'allow', 'prefer', 'require', 'verify-ca', 'verify-full'] as const;
type SslMode = (typeof sslModes)[number];
const tlsParameters = ['sslmode', 'sslrootcert', 'sslcert', 'sslkey'];

/** The `ssl` option of the postgres driver: off, a mode it knows, or Node TLS options. */
export type PostgresSsl = false | 'allow' | 'prefer' | 'require' | ConnectionOptions;

/**
 * The TLS a database URL asks for with libpq's parameters, which the postgres driver reads only in
 * part (it takes `sslmode`, but would send `sslrootcert` to the server as a setting):
 * `sslmode` disable | allow | prefer | require | verify-ca | verify-full, `sslrootcert` (a CA
 * file, or `system` for Node's trusted roots), `sslcert` and `sslkey` (a client certificate).
 * As in libpq, `verify-full` checks the CA and that the certificate names the host connected to,
 * `verify-ca` the CA only, and `require` with a `sslrootcert` acts as `verify-ca`. A
 * `sslrootcert` without `sslmode` means `verify-full` (libpq would prefer TLS and check nothing).
 * Returns the URL without those parameters and the driver's `ssl` option.
 */
export function postgresTls(url: string): { url: string; ssl: PostgresSsl } {
  const queryStart = url.indexOf('?');
  if (queryStart < 0) return { url, ssl: false };
  const query = new URLSearchParams(url.slice(queryStart + 1));
  const [requestedMode, rootCert, cert, key] = tlsParameters.map((name) => query.get(name) ?? undefined);
  const requested = requestedMode ?? (rootCert ? 'verify-full' : 'disable');
  if (!sslModes.includes(requested as SslMode)) throw new InvalidDatabaseUrlError(`sslmode=${requested} is not one of ${sslModes.join(', ')}`);
  const mode = requested === 'require' && rootCert ? 'verify-ca' : (requested as SslMode);
  for (const name of tlsParameters) query.delete(name);
  const rest = query.toString();
  const base = url.slice(0, queryStart);
  const stripped = `${base}${rest ? `?${rest}` : ''}`;

  if (mode === 'disable') return { url: stripped, ssl: false };
  if (mode === 'allow' || mode === 'prefer' || mode === 'require') return { url: stripped, ssl: mode };
  const read = (name: string, file: string) => {
    try {
      return readFileSync(file);
    } catch (error) {
      throw new InvalidDatabaseUrlError(`${name}=${file} cannot be read: ${(error as NodeJS.ErrnoException).code ?? String(error)}`);
    }
  };
  const options: ConnectionOptions = { rejectUnauthorized: true };
  if (rootCert && rootCert !== 'system') options.ca = read('sslrootcert', rootCert);
  if (cert && key) {
    options.cert = read('sslcert', cert);
    options.key = read('sslkey', key);
  } else if (cert || key) throw new InvalidDatabaseUrlError('sslcert and sslkey go together');
  if (mode === 'verify-ca') {
    options.checkServerIdentity = () => undefined;
  } else {
    // The driver gives TLS no host name for an IP address, and Node then checks the certificate
    // against "localhost": the URL's host is checked here instead. With several hosts in the
    // URL, the certificate must name one of them.
    const hosts = urlHosts(base);
    options.checkServerIdentity = (_hostname, certificate) => {
      const failures = hosts.map((host) => checkServerIdentity(host, certificate));
      return failures.every(Boolean) ? failures[0] : undefined;
    };
  }
  return { url: stripped, ssl: options };
}

/** The host names of a postgres URL (`postgres://user@host1:5432,host2/db`), without ports or brackets. */
function urlHosts(base: string): string[] {
  const authority = base.replace(/^postgres(ql)?:\/\//, '').split('/')[0] ?? '';
  const hostList = authority.slice(authority.lastIndexOf('@') + 1);
  return hostList.split(',').map((entry) => {
    const host = entry.startsWith('[') ? entry.slice(1, entry.indexOf(']')) : entry.replace(/:\d+$/, '');
    return host || 'localhost';
  });
}

/**
 * A postgres driver client for `url`, with the TLS its libpq parameters ask for (see
 * `postgresTls`). Every connection of the apps and tools opens through it.
 */
export function connectPostgres<T extends Record<string, postgres.PostgresType> = Record<string, never>>(
  url: string,
  options: postgres.Options<T> = {},
): ReturnType<typeof postgres<T>> {
  const { url: plainUrl, ssl } = postgresTls(url);
  return postgres<T>(plainUrl, { ...options, ssl: ssl as postgres.Options<T>['ssl'] });
}
