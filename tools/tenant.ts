// The operator's admin CLI: `npm run tenant -- <command> …`. It is the one cross-tenant path
// of the system: it logs in as the operator's own login, a member of the tenant_operator role
// (OPERATOR_DATABASE_URL), and the database writes every change it makes to operator_audit_log
// under that login.
import { randomUUID } from 'node:crypto';
import { parseArgs } from 'node:util';
import pino from 'pino';
import { ConfigError, loadOperatorConfig, type OperatorConfig } from '@tenant-sync/config';
import { deadLetterTopic, eventTopic, isEntityType, isOrgId } from '@tenant-sync/contracts';
import { createDatabase, type SourceDatabase } from '@tenant-sync/db';
import { createKafka } from '@tenant-sync/kafka';
import {
  addMember,
  asOperator,
  audit,
  auditTrail,
  createOrg,
  listMembers,
  listOrgs,
  matchesFilter,
  OperatorError,
  outboxState,
  parkedRows,
  readDeadLetter,
  readDeadLetters,
  removeMember,
  replayDeadLetters,
  replayRefusal,
  setOrgStatus,
  type DeadLetter,
  type DeadLetterFilter,
} from '@tenant-sync/operator';
import { terminalSafe, terminalSafeLines } from './tenant/terminal-text.ts';

const usage = `usage: npm run tenant -- <command> [arguments]

  orgs                                  list organisations, their status and active members
  create-org --name <name> [--id <uuid>] [--admin <subject>]
                                        create an ACTIVE organisation (and its first admin)
  suspend <org-id>                      refuse the org's tokens and sync from now on (within the auth cache TTL)
  reactivate <org-id>                   undo suspend
  members <org-id>                      list the org's members
  add-member <org-id> <subject> [--role member|tenant_admin]
                                        add a member, or reactivate one with the given role
  remove-member <org-id> <subject>      remove a member
  outbox [--limit <n>]                  outbox rows per tenant (pending, leased, parked) and the parked ones
  dlq [--limit <n>]                     the last dead letters of the consumer, newest last, with their reasons
  replay <partition>:<offset>           publish one dead letter again to its events topic, after a fix
  replay [--reason <code>] [--org <uuid>] [--since <ISO time>] [--until <ISO time>]
                                        publish again every dead letter matching all the filters given
                                        (one at least): --reason is the dlq-code or the whole dlq-reason;
                                        --since (inclusive) and --until bound the dead letter's timestamp
                                        A replay refuses a letter that is not a valid event of the type or
                                        that came from another topic than the type's, and then exits 1.
                                        dlq and replay read the dead letters of one entity type:
                                        --type user (the default), --type team, …
  audit [--limit <n>]                   the newest entries of the operator audit log

Environment: OPERATOR_DATABASE_URL (your own login, a member of tenant_operator), DATABASE_PASSWORD_FILE, KAFKA_BROKERS,
KAFKA_TOPIC_TEMPLATE. Exit status: 0 done, 1 refused or failed, 2 bad usage.`;

class UsageError extends Error {}

function table(rows: Record<string, unknown>[]): string {
  if (rows.length === 0) return '(none)';
  const columns = Object.keys(rows[0] as object);
  const cell = (value: unknown) => terminalSafe(value instanceof Date ? value.toISOString() : value === null || value === undefined ? '—' : String(value));
  const widths = columns.map((column) => Math.max(column.length, ...rows.map((row) => cell(row[column]).length)));
  const line = (values: string[]) => values.map((value, index) => value.padEnd(widths[index] as number)).join('  ').trimEnd();
  return [line(columns), line(widths.map((width) => '─'.repeat(width))), ...rows.map((row) => line(columns.map((column) => cell(row[column]))))].join('\n');
}

function orgArgument(value: string | undefined): string {
  if (!value) throw new UsageError('an organisation id is required');
  if (!isOrgId(value)) throw new UsageError(`organisation id must be a UUID, got ${JSON.stringify(value)}`);
  return value.toLowerCase();
}

function limitOption(value: string | undefined, fallback: number): number {
  if (value === undefined) return fallback;
  const limit = Number(value);
  if (!Number.isInteger(limit) || limit < 1 || limit > 10_000) throw new UsageError('--limit must be an integer from 1 to 10000');
  return limit;
}

function timeOption(name: string, value: string | undefined): number | undefined {
  if (value === undefined) return undefined;
  const time = /^\d{4}-\d{2}-\d{2}/.test(value) ? Date.parse(value) : Number.NaN;
  if (Number.isNaN(time)) throw new UsageError(`--${name} must be an ISO time such as 2025-01-31T12:00:00Z, got ${JSON.stringify(value)}`);
  return time;
}

/** The bulk replay's filters, or null when none is given. */
function filterOptions(values: { reason?: string | undefined; org?: string | undefined; since?: string | undefined; until?: string | undefined }): DeadLetterFilter | null {
  if (values.reason === '') throw new UsageError('--reason must not be empty');
  const filter: DeadLetterFilter = {
    reason: values.reason,
    orgId: values.org === undefined ? undefined : orgArgument(values.org),
    since: timeOption('since', values.since),
    until: timeOption('until', values.until),
  };
  if (filter.since !== undefined && filter.until !== undefined && filter.since >= filter.until) throw new UsageError('--since must be before --until');
  return Object.values(filter).some((value) => value !== undefined) ? filter : null;
}

const position = (letter: DeadLetter) => `${letter.partition}:${letter.offset}`;

/** The entity type `--type` names (`user`, `team`, `purchase-order`), as messages spell it. */
function typeOption(value: string | undefined): string {
  const entityType = (value ?? 'user').toUpperCase().replaceAll('-', '_');
  if (!isEntityType(entityType)) throw new UsageError(`--type must name an entity type such as user or team, got ${JSON.stringify(value)}`);
  return entityType;
}

// On a terminal only: the carriage return would garble a log file.
const progress = (topic: string) => (read: number, total: number) => {
  if (process.stderr.isTTY) process.stderr.write(`\rreading ${topic}: ${read}/${total}`);
};
const endProgress = () => {
  if (process.stderr.isTTY) process.stderr.write('\n');
};

function parseOptions(argv: string[]) {
  try {
    return parseArgs({
      args: argv,
      allowPositionals: true,
      options: {
        name: { type: 'string' },
        id: { type: 'string' },
        admin: { type: 'string' },
        role: { type: 'string' },
        limit: { type: 'string' },
        reason: { type: 'string' },
        org: { type: 'string' },
        since: { type: 'string' },
        until: { type: 'string' },
        type: { type: 'string' },
        help: { type: 'boolean', short: 'h' },
      },
    });
  } catch (error) {
    throw new UsageError((error as Error).message);
  }
}

async function run(argv: string[], config: OperatorConfig, out: (line: string) => void): Promise<void> {
  const { positionals, values } = parseOptions(argv);
  const [command, ...rest] = positionals;
  if (values.help) {
    out(usage);
    return;
  }
  if (!command) throw new UsageError('a command is required');
  const db = createDatabase<SourceDatabase>({ url: config.OPERATOR_DATABASE_URL, poolSize: 1, applicationName: 'tenant-admin' });
  const kafka = () => createKafka({ brokers: config.KAFKA_BROKERS, clientId: 'tenant-sync-admin', logger: pino({ level: 'error' }), security: config });
  const act = <T>(work: Parameters<typeof asOperator<T>>[1]) => asOperator(db, work);
  // The events topic of the type the dead-letter commands are about, and its dead letters.
  const entityType = typeOption(values.type);
  const eventsTopic = eventTopic(config.KAFKA_TOPIC_TEMPLATE, entityType);
  const dlqTopic = deadLetterTopic(eventsTopic);

  async function replayMatching(filter: DeadLetterFilter) {
    const { letters } = await readDeadLetters(kafka(), dlqTopic, { onProgress: progress(dlqTopic) });
    endProgress();
    const matching = letters.filter((letter) => matchesFilter(letter, filter)).map((letter) => ({ letter, refusal: replayRefusal(letter, eventsTopic, entityType) }));
    const accepted = matching.filter(({ refusal }) => refusal === null).map(({ letter }) => letter);
    const refused = matching.flatMap(({ letter, refusal }) => (refusal === null ? [] : [{ position: position(letter), refusal: terminalSafe(refusal) }]));
    // One row for the run, logged first like a single replay; message text kept as printed.
    await act((trx) => audit(trx, 'replay dead letters', filter.orgId ?? null, {
      filter: {
        reason: filter.reason && terminalSafe(filter.reason),
        org: filter.orgId,
        since: filter.since === undefined ? undefined : new Date(filter.since).toISOString(),
        until: filter.until === undefined ? undefined : new Date(filter.until).toISOString(),
      },
      matched: matching.length,
      replayed: accepted.length,
      refused: refused.length,
      positions: accepted.map(position),
      refusals: refused,
    }));
    await replayDeadLetters(kafka(), eventsTopic, accepted);
    out(`replayed ${accepted.length} and refused ${refused.length} of ${matching.length} matching dead letters in ${dlqTopic}, to ${eventsTopic}`);
    for (const { position, refusal } of refused) out(`  refused ${position}: ${refusal}`);
    if (refused.length > 0) throw new OperatorError(`refused ${refused.length} of ${matching.length} matching dead letters`);
  }

  try {
    switch (command) {
      case 'orgs':
        out(table(await act(async (trx) => {
          await audit(trx, 'read organisations', null);
          return listOrgs(trx);
        })));
        break;
      case 'create-org': {
        if (!values.name?.trim()) throw new UsageError('--name is required');
        const id = values.id === undefined ? randomUUID() : orgArgument(values.id);
        await act((trx) => createOrg(trx, { id, name: values.name!.trim(), admin: values.admin }));
        out(`created organisation ${id} (${values.name.trim()})${values.admin ? ` with admin ${values.admin}` : ''}`);
        break;
      }
      case 'suspend':
      case 'reactivate': {
        const orgId = orgArgument(rest[0]);
        const status = command === 'suspend' ? 'SUSPENDED' : 'ACTIVE';
        const changed = await act((trx) => setOrgStatus(trx, orgId, status));
        out(changed ? `organisation ${orgId} is now ${status}` : `organisation ${orgId} was already ${status}`);
        break;
      }
      case 'members': {
        const orgId = orgArgument(rest[0]);
        out(table(await act(async (trx) => {
          await audit(trx, 'read members', orgId);
          return listMembers(trx, orgId);
        })));
        break;
      }
      case 'add-member': {
        const orgId = orgArgument(rest[0]);
        const subject = rest[1];
        if (!subject) throw new UsageError('a subject is required');
        const role = values.role ?? 'member';
        if (role !== 'member' && role !== 'tenant_admin') throw new UsageError('--role must be member or tenant_admin');
        await act((trx) => addMember(trx, orgId, subject, role));
        out(`${subject} is an active ${role} of ${orgId}`);
        break;
      }
      case 'remove-member': {
        const orgId = orgArgument(rest[0]);
        const subject = rest[1];
        if (!subject) throw new UsageError('a subject is required');
        await act((trx) => removeMember(trx, orgId, subject));
        out(`${subject} is no longer a member of ${orgId}`);
        break;
      }
      case 'outbox': {
        const limit = limitOption(values.limit, 20);
        const { perTenant, parked } = await act(async (trx) => {
          await audit(trx, 'read outbox', null);
          return { perTenant: await outboxState(trx), parked: await parkedRows(trx, limit) };
        });
        out('outbox rows per tenant');
        out(table(perTenant.map((row) => ({ ...row, oldest_pending_s: row.oldest_pending_s === null ? null : Number(row.oldest_pending_s).toFixed(1) }))));
        out(`\nparked rows (first ${limit}): the relay will not publish these; see park_reason`);
        out(table(parked));
        break;
      }
      case 'dlq': {
        const limit = limitOption(values.limit, 20);
        const { total, letters } = await readDeadLetters(kafka(), dlqTopic, { last: limit, onProgress: progress(dlqTopic) });
        endProgress();
        const shown = letters.slice(-limit);
        await act((trx) => audit(trx, 'read dead letters', null, { topic: dlqTopic, count: total, shown: shown.length }));
        out(`${total} dead letters in ${dlqTopic}; the last ${shown.length}:`);
        out(table(shown.map((letter) => ({
          position: position(letter),
          at: letter.at,
          key: letter.key,
          org: letter.orgId,
          entity: letter.entityId,
          from: letter.original ? `${letter.original.topic}/${letter.original.partition}:${letter.original.offset}` : null,
          code: letter.code,
          reason: letter.reason,
        }))));
        break;
      }
      case 'replay': {
        const filter = filterOptions(values);
        if (rest.length === 0 && filter) {
          await replayMatching(filter);
          break;
        }
        const match = /^(\d+):(\d+)$/.exec(rest[0] ?? '');
        if (!match || rest.length > 1 || filter) {
          throw new UsageError('replay needs <partition>:<offset> of a dead letter (see: npm run tenant -- dlq), or filters: --reason, --org, --since, --until');
        }
        const partition = Number(match[1]);
        const offset = String(BigInt(match[2] as string));
        const letter = await readDeadLetter(kafka(), dlqTopic, partition, offset);
        if (!letter) throw new OperatorError(`no dead letter at ${partition}:${offset} in ${dlqTopic}`);
        const refusal = replayRefusal(letter, eventsTopic, entityType);
        if (refusal) throw new OperatorError(`refused to replay ${position(letter)}: ${refusal}`);
        // Logged first: an operator action that fails half-way is still on record.
        await act((trx) => audit(trx, 'replay dead letter', letter.orgId && isOrgId(letter.orgId) ? letter.orgId : null, {
          topic: dlqTopic, position: position(letter), reason: terminalSafe(letter.reason), entity: letter.entityId && terminalSafe(letter.entityId),
        }));
        await replayDeadLetters(kafka(), eventsTopic, [letter]);
        out(`replayed ${position(letter)} (${letter.reason}) to ${eventsTopic}`);
        break;
      }
      case 'audit':
        out(table(await act((trx) => auditTrail(trx, limitOption(values.limit, 20)))));
        break;
      default:
        throw new UsageError(`unknown command ${JSON.stringify(command)}`);
    }
  } finally {
    await db.destroy();
  }
}

function safeUrl(url: string): string {
  const parsed = new URL(url);
  if (parsed.password) parsed.password = '***';
  return parsed.toString();
}

try {
  const config = loadOperatorConfig();
  try {
    // Whatever is printed may hold text from Kafka messages: nothing reaches the terminal raw.
    await run(process.argv.slice(2), config, (line) => console.log(terminalSafeLines(line)));
  } catch (error) {
    if (error instanceof UsageError) throw error;
    if (error instanceof OperatorError) {
      console.error(`tenant: ${terminalSafeLines(error.message)}`);
      process.exit(1);
    }
    const code = (error as { code?: string }).code;
    if (code === 'ECONNREFUSED' || code === '28P01' || code === '3D000') {
      console.error(`tenant: cannot use the operator database at ${safeUrl(config.OPERATOR_DATABASE_URL)}: ${terminalSafeLines((error as Error).message)}`);
    } else {
      console.error(`tenant: ${terminalSafeLines((error as Error).message)}`);
    }
    process.exit(1);
  }
} catch (error) {
  if (error instanceof UsageError) {
    console.error(`tenant: ${terminalSafeLines((error as Error).message)}\n\n${usage}`);
    process.exit(2);
  }
  if (error instanceof ConfigError) {
    console.error(`tenant: ${error.message}`);
    process.exit(2);
  }
  throw error;
}
