import { X509Certificate } from 'node:crypto';
import { lstatSync, readlinkSync, watch, type FSWatcher } from 'node:fs';
import path from 'node:path';
import { Gauge, type Registry } from 'prom-client';
import { daysUntilExpiry, loadTlsMaterial, type TlsFiles, type TlsMaterial } from './tls-material.ts';

/** The part of a pino logger the watcher writes to. */
export interface TlsLogger {
  info(object: object, message: string): void;
  warn(object: object, message: string): void;
  error(object: object, message: string): void;
}

export interface WatchTlsOptions {
  logger: TlsLogger;
  /** Called with new, valid material; hand it to `server.setSecureContext` or a new Agent. */
  onReload: (material: TlsMaterial) => void;
  /** Material already loaded at start; read from `files` when omitted. */
  initial?: TlsMaterial | undefined;
  /** Quiet time after the last file event before reloading: the three files rarely change at once. */
  debounceMs?: number | undefined;
  /** How often the expiry is checked again. */
  expiryCheckIntervalMs?: number | undefined;
  /** Warn when fewer days than this are left. */
  warnDays?: number | undefined;
  /** Where `tls_certificate_expiry_timestamp_seconds{file}` of the certificate and the CA goes. */
  registry?: Registry | undefined;
}

const expiryMetric = 'tls_certificate_expiry_timestamp_seconds';

/** Publishes when the certificate and the CA of `files` stop being valid (an alert watches it). */
function recordExpiry(registry: Registry, files: TlsFiles, material: TlsMaterial): void {
  const gauge =
    (registry.getSingleMetric(expiryMetric) as Gauge | undefined) ??
    new Gauge({ name: expiryMetric, help: 'When each TLS certificate in use stops being valid (Unix seconds)', labelNames: ['file'], registers: [registry] });
  gauge.set({ file: files.certFile }, Math.floor(material.notAfter.getTime() / 1000));
  gauge.set({ file: files.caFile }, Math.floor(new Date(new X509Certificate(material.ca).validTo).getTime() / 1000));
}

export interface TlsWatcher {
  /** The material in use: the last that loaded and passed its checks. */
  current(): TlsMaterial;
  /** Reloads now; true when new material was taken, false when it was refused or unchanged. */
  reload(): boolean;
  close(): void;
}

/** Logs an error when `material` has expired and a warning when it expires within `warnDays`. */
export function checkExpiry(material: TlsMaterial, logger: TlsLogger, warnDays = 30, now = new Date()): void {
  const fields = { subject: material.subject, notAfter: material.notAfter.toISOString() };
  if (material.notAfter <= now) logger.error(fields, 'certificate has expired');
  else if (daysUntilExpiry(material, now) < warnDays) {
    logger.warn({ ...fields, daysLeft: daysUntilExpiry(material, now) }, 'certificate expires soon');
  }
}

/**
 * The names in a file's directory whose change means new content: its own name and, when it is
 * a symlink into that directory, the entry the link goes through. A Kubernetes Secret volume
 * is such a layout (`tls.crt -> ..data/tls.crt`, `..data -> ..2026_…`): the kubelet rotates it
 * by renaming a new `..data` link over the old one and never touches `tls.crt` itself.
 */
function namesThatChangeFile(file: string): string[] {
  const names = [path.basename(file)];
  try {
    if (lstatSync(file).isSymbolicLink()) {
      const target = readlinkSync(file);
      const [first] = target.split(path.sep);
      if (!path.isAbsolute(target) && first !== undefined && first !== '.' && first !== '..') names.push(first);
    }
  } catch {
    // a missing file is reported by loadTlsMaterial; its own name is still watched
  }
  return names;
}

/**
 * Keeps a listener's certificate current without a restart: reloads when any of the three
 * files changes (the directories are watched, so files replaced by rename are seen too, and so
 * is a swapped `..data` symlink of a Kubernetes Secret volume) or on SIGHUP, checks the new
 * material like at start and keeps the old one when it does not pass.
 * Checks the expiry at start and then periodically.
 */
export function watchTlsMaterial(files: TlsFiles, options: WatchTlsOptions): TlsWatcher {
  const { logger, onReload, debounceMs = 250, expiryCheckIntervalMs = 6 * 3_600_000, warnDays = 30 } = options;
  let material = options.initial ?? loadTlsMaterial(files);
  let debounce: NodeJS.Timeout | undefined;

  const reload = (): boolean => {
    let next: TlsMaterial;
    try {
      next = loadTlsMaterial(files);
    } catch (error) {
      logger.error({ err: error }, 'new TLS material refused; the current certificate stays in use');
      return false;
    }
    if (next.cert.equals(material.cert) && next.key.equals(material.key) && next.ca.equals(material.ca)) return false;
    try {
      onReload(next);
    } catch (error) {
      logger.error({ err: error }, 'TLS material could not be applied; the current certificate stays in use');
      return false;
    }
    material = next;
    if (options.registry) recordExpiry(options.registry, files, next);
    logger.info({ subject: next.subject, notAfter: next.notAfter.toISOString() }, 'TLS material reloaded');
    checkExpiry(next, logger, warnDays);
    return true;
  };
  const schedule = () => {
    clearTimeout(debounce);
    debounce = setTimeout(reload, debounceMs);
    debounce.unref();
  };

  const names = new Map<string, Set<string>>();
  for (const file of [files.caFile, files.certFile, files.keyFile]) {
    const dir = path.dirname(path.resolve(file));
    const watched = names.get(dir) ?? new Set();
    for (const name of namesThatChangeFile(file)) watched.add(name);
    names.set(dir, watched);
  }
  const watchers: FSWatcher[] = [...names].map(([dir, watched]) =>
    watch(dir, { persistent: false }, (_event, name) => {
      if (name === null || watched.has(name.toString())) schedule();
    }).on('error', (error) => logger.warn({ err: error, dir }, 'cannot watch TLS files; SIGHUP still reloads')),
  );
  const onSighup = () => {
    logger.info({}, 'SIGHUP: reloading TLS material');
    reload();
  };
  process.on('SIGHUP', onSighup);

  if (options.registry) recordExpiry(options.registry, files, material);
  checkExpiry(material, logger, warnDays);
  const expiryTimer = setInterval(() => checkExpiry(material, logger, warnDays), expiryCheckIntervalMs);
  expiryTimer.unref();

  return {
    current: () => material,
    reload,
    close() {
      clearTimeout(debounce);
      clearInterval(expiryTimer);
      process.off('SIGHUP', onSighup);
      for (const watcher of watchers) watcher.close();
    },
  };
}
