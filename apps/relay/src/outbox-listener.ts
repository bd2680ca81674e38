import type { Logger } from 'pino';
import { connectPostgres } from '@tenant-sync/db';

/** The channel the outbox trigger notifies on commit (migration 005-outbox-notify.sql). */
export const OUTBOX_CHANNEL = 'outbox_pending';

export interface OutboxListenerOptions {
  url: string;
  logger: Logger;
  /**
   * Called on every notification with the tenant it names, if it names one (migration
   * 016-outbox-notify-tenant.sql), and after each (re)connect without one: notifications may
   * have been missed.
   */
  onWake: (tenant?: string) => void;
}

/** A tenant id as the trigger writes it: the canonical text of a uuid. */
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

/**
 * LISTENs for outbox commits on a dedicated connection that the driver reconnects with
 * backoff. A notification only says "look", at one tenant's rows when it names one: the relay
 * still claims by state, and its fallback poll covers anything missed while the listener was
 * away. A payload that is not a tenant id counts as none.
 */
export async function listenForOutboxCommits({ url, logger, onWake }: OutboxListenerOptions): Promise<{ close(): Promise<void> }> {
  // Through connectPostgres, like the relay's pool: the URL's sslmode and sslrootcert apply here too.
  const sql = connectPostgres(url, { max: 1, onnotice: () => {}, connection: { application_name: 'relay-listener' } });
  let connects = 0;
  await sql.listen(OUTBOX_CHANNEL, (payload) => onWake(UUID.test(payload) ? payload : undefined), () => {
    connects += 1;
    if (connects > 1) logger.info({ channel: OUTBOX_CHANNEL }, 'outbox listener reconnected');
    onWake();
  });
  return {
    async close() {
      await sql.end({ timeout: 5 });
    },
  };
}
