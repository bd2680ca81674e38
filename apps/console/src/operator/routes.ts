import type { FastifyPluginAsync } from 'fastify';
import { isOrgId } from '@tenant-sync/contracts';
import { asOperator, audit, readDeadLetter, replayDeadLetters, replayRefusal } from '@tenant-sync/operator';
import { CONSOLE_DEAD_LETTER_NOT_FOUND, CONSOLE_REPLAY_REFUSED, CONSOLE_UNKNOWN_TOPIC } from '../errors.ts';
import { operatorPage } from '../pages/operator-page.ts';
import { operatorOf, requireOperator } from './operator-identity.ts';
import { readOperatorOverview, type OperatorOverviewSources } from './operator-overview.ts';

export interface OperatorRoutesOptions extends OperatorOverviewSources {
  /** SPIFFE IDs of the operators' client certificates. */
  operators: readonly string[];
}

const position = 'topic, partition and offset of a dead letter';
const replayBody = {
  type: 'object',
  required: ['topic', 'partition', 'offset'],
  properties: {
    topic: { type: 'string', pattern: '^[A-Za-z0-9._-]{1,249}$', description: position },
    partition: { type: 'string', pattern: '^[0-9]{1,6}$' },
    offset: { type: 'string', pattern: '^[0-9]{1,19}$' },
  },
  additionalProperties: false,
} as const;

const replayedQuery = {
  type: 'object',
  properties: { replayed: { type: 'string', pattern: '^[A-Za-z0-9._-]{1,249} [0-9]{1,6}:[0-9]{1,19}$' } },
  additionalProperties: false,
} as const;

/** Text from a Kafka message, bounded before it goes into the audit log. */
const bounded = (text: string | null) => (text === null ? null : text.slice(0, 500));

/**
 * The operator view, under `/operator`: only for a verified operator client certificate (see
 * `requireOperator`). Each read and each replay is recorded by the database as the console's
 * operator login, with the certificate's SPIFFE ID in the entry's detail.
 */
export const operatorRoutes: FastifyPluginAsync<OperatorRoutesOptions> = async (app, options) => {
  const { db, kafka, kinds, operators } = options;
  app.addHook('onRequest', requireOperator(operators));

  app.get<{ Querystring: { replayed?: string } }>('/operator', { schema: { querystring: replayedQuery } }, async (request, reply) => {
    const operator = operatorOf(request);
    const overview = await readOperatorOverview(options, operator);
    const notice = request.query.replayed ? `Replayed the dead letter at ${request.query.replayed} to its events topic.` : null;
    return reply.type('text/html').header('cache-control', 'no-store').send(operatorPage({ ...overview, operator, now: new Date(), notice }));
  });

  app.post<{ Body: { topic: string; partition: string; offset: string } }>('/operator/dead-letters/replay', { schema: { body: replayBody } }, async (request, reply) => {
    const operator = operatorOf(request);
    const { topic } = request.body;
    const partition = Number(request.body.partition);
    const offset = String(BigInt(request.body.offset));
    // The events topic comes from the configuration of the letter's entity type, never from the letter.
    const kind = kinds.find((candidate) => candidate.deadLetterTopic === topic);
    if (!kind) throw new CONSOLE_UNKNOWN_TOPIC(topic);
    const at = `${topic} ${partition}:${offset}`;
    const letter = await readDeadLetter(kafka, topic, partition, offset);
    if (!letter) throw new CONSOLE_DEAD_LETTER_NOT_FOUND(at);
    const orgId = letter.orgId && isOrgId(letter.orgId) ? letter.orgId : null;
    const detail = { via: 'console', operator, position: at, reason: bounded(letter.reason), entity: bounded(letter.entityId), to: kind.eventsTopic };
    const refusal = replayRefusal(letter, kind.eventsTopic, kind.type);
    if (refusal) {
      await asOperator(db, (trx) => audit(trx, 'refused replay of dead letter', orgId, { ...detail, refusal }));
      throw new CONSOLE_REPLAY_REFUSED(at, refusal);
    }
    // Recorded first: an action that fails half-way is still on record.
    await asOperator(db, (trx) => audit(trx, 'replay dead letter', orgId, detail));
    await replayDeadLetters(kafka, kind.eventsTopic, [letter]);
    request.log.info({ position: at, to: kind.eventsTopic }, 'dead letter replayed');
    return reply.redirect(`/operator?replayed=${encodeURIComponent(at)}`, 303);
  });
};
