// The operator's admin CLI: `npm run tenant -- <command> …`. It is the one cross-tenant path
// of the system: it logs in as the tenant_operator role (OPERATOR_DATABASE_URL), which only it
// uses, and every change it makes is written to operator_audit_log by the database.
import { randomUUID } from 'node:crypto';
import os from 'node:os';
import { parseArgs } from 'node:util';
import pino from 'pino';
import { ConfigError, loadOperatorConfig, type OperatorConfig } from '@tenant-sync/config';
import { isOrgId } from '@tenant-sync/contracts';
import { createDatabase, type SourceDatabase } from '@tenant-sync/db';
import { createKafka } from '@tenant-sync/kafka';
import { readDeadLetters, replayDeadLetter } from './tenant/dead-letters.ts';
import {
  addMember,
  asOperator,
  audit,
  auditTrail,
  createOrg,
  listMembers,
  listOrgs,
  OperatorError,
  outboxState,
  parkedRows,
  removeMember,
  setOrgStatus,
} from './tenant/operator-queries.ts';

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
  dlq [--limit <n>]                     dead letters of the consumer, newest last, with their reasons
  replay <partition>:<offset>           publish a dead letter again to its original topic, after a fix
  audit [--limit <n>]                   the newest entries of the operator audit log

Environment: OPERATOR_DATABASE_URL, OPERATOR_NAME (defaults to your login name), KAFKA_BROKERS,
KAFKA_TOPIC, KAFKA_DLQ_TOPIC. Exit status: 0 done, 1 refused or failed, 2 bad usage.`;

class UsageError extends Error {}

function table(rows: Record<string, unknown>[]): string {
  if (rows.length === 0) return '(none)';
  const columns = Object.keys(rows[0] as object);
  const cell = (value: unknown) => (value instanceof Date ? value.toISOString() : value === null || value === undefined ? '—' : String(value));
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
  const operator = config.OPERATOR_NAME ?? os.userInfo().username;
  const db = createDatabase<SourceDatabase>({ url: config.OPERATOR_DATABASE_URL, poolSize: 1, applicationName: 'tenant-admin' });
  const kafka = () => createKafka({ brokers: config.KAFKA_BROKERS, clientId: 'tenant-sync-admin', logger: pino({ level: 'error' }) });
  const act = <T>(work: Parameters<typeof asOperator<T>>[2]) => asOperator(db, operator, work);
  try {
    switch (command) {
      case 'orgs':
        out(table(await act(async (trx) => {
          await audit(trx, operator, 'read organisations', null);
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
          await audit(trx, operator, 'read members', orgId);
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
          await audit(trx, operator, 'read outbox', null);
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
        const letters = await readDeadLetters(kafka(), config.KAFKA_DLQ_TOPIC, (read, total) => process.stderr.write(`\rreading ${config.KAFKA_DLQ_TOPIC}: ${read}/${total}`));
        process.stderr.write('\n');
        await act((trx) => audit(trx, operator, 'read dead letters', null, { count: letters.length }));
        out(`${letters.length} dead letters in ${config.KAFKA_DLQ_TOPIC}; the last ${Math.min(limit, letters.length)}:`);
        out(table(letters.slice(-limit).map((letter) => ({
          position: `${letter.partition}:${letter.offset}`,
          at: letter.at,
          org: letter.orgId,
          entity: letter.entityId,
          from: letter.original ? `${letter.original.topic}/${letter.original.partition}:${letter.original.offset}` : null,
          reason: letter.reason,
        }))));
        break;
      }
      case 'replay': {
        const match = /^(\d+):(\d+)$/.exec(rest[0] ?? '');
        if (!match) throw new UsageError('replay needs <partition>:<offset> of a dead letter (see: npm run tenant -- dlq)');
        const [, partition, offset] = match;
        const letters = await readDeadLetters(kafka(), config.KAFKA_DLQ_TOPIC, (read, total) => process.stderr.write(`\rreading ${config.KAFKA_DLQ_TOPIC}: ${read}/${total}`));
        process.stderr.write('\n');
        const letter = letters.find((candidate) => candidate.partition === Number(partition) && candidate.offset === offset);
        if (!letter) throw new OperatorError(`no dead letter at ${partition}:${offset} in ${config.KAFKA_DLQ_TOPIC}`);
        // Logged first: an operator action that fails half-way is still on record.
        await act((trx) => audit(trx, operator, 'replay dead letter', letter.orgId && isOrgId(letter.orgId) ? letter.orgId : null, {
          position: `${partition}:${offset}`, reason: letter.reason, entity: letter.entityId,
        }));
        const topic = await replayDeadLetter(kafka(), letter);
        out(`replayed ${partition}:${offset} (${letter.reason}) to ${topic}`);
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
    await run(process.argv.slice(2), config, (line) => console.log(line));
  } catch (error) {
    if (error instanceof UsageError) throw error;
    if (error instanceof OperatorError) {
      console.error(`tenant: ${error.message}`);
      process.exit(1);
    }
    const code = (error as { code?: string }).code;
    if (code === 'ECONNREFUSED' || code === '28P01' || code === '3D000') {
      console.error(`tenant: cannot use the operator database at ${safeUrl(config.OPERATOR_DATABASE_URL)}: ${(error as Error).message}`);
    } else {
      console.error(`tenant: ${(error as Error).message}`);
    }
    process.exit(1);
  }
} catch (error) {
  if (error instanceof UsageError) {
    console.error(`tenant: ${(error as Error).message}\n\n${usage}`);
    process.exit(2);
  }
  if (error instanceof ConfigError) {
    console.error(`tenant: ${error.message}`);
    process.exit(2);
  }
  throw error;
}
