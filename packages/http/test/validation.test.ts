import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import pino from 'pino';
import { Type } from 'typebox';
import { afterAll, describe, expect, it } from 'vitest';
import { createHttpsServer } from '../src/index.ts';

const certs = fileURLToPath(new URL('../../../certs/', import.meta.url));
const https = { key: readFileSync(`${certs}source.key`), cert: readFileSync(`${certs}source.crt`) };

describe('request validation of createHttpsServer', async () => {
  const app = await createHttpsServer({ listener: 'public', https, logger: pino({ level: 'silent' }), openapi: { title: 't', description: 'd' } });
  app.post(
    '/things/:subject',
    {
      schema: {
        params: Type.Object({ subject: Type.String({ maxLength: 128 }) }),
        querystring: Type.Object({ limit: Type.Integer({ default: 50 }), flag: Type.Optional(Type.Boolean()) }),
        body: Type.Object({ name: Type.String(), count: Type.Optional(Type.Integer()), tags: Type.Optional(Type.Array(Type.String())) }, { additionalProperties: false }),
      },
    },
    async (request) => ({ params: request.params, query: request.query, body: request.body }),
  );
  afterAll(() => app.close());

  const post = (body: unknown, url = '/things/s?limit=7&flag=true') => app.inject({ method: 'POST', url, payload: body as object });

  it('coerces query strings and params to their schema types', async () => {
    const response = await post({ name: 'x', count: 3, tags: ['a'] });
    expect(response.statusCode).toBe(200);
    expect(response.json()).toEqual({ params: { subject: 's' }, query: { limit: 7, flag: true }, body: { name: 'x', count: 3, tags: ['a'] } });
  });

  it.each([
    ['a number for a string', { name: 123 }],
    ['an array for a string', { name: ['x'] }],
    ['a boolean for a string', { name: true }],
    ['null for a string', { name: null }],
    ['a string for an integer', { name: 'x', count: '3' }],
    ['a string for an array', { name: 'x', tags: 'a' }],
  ])('refuses %s in a JSON body instead of coercing it (400)', async (_name, body) => {
    const response = await post(body);
    expect(response.statusCode).toBe(400);
    expect(response.json()).toMatchObject({ statusCode: 400, code: 'HTTP_INVALID_INPUT', error: 'Bad Request' });
  });

  it('routes a path parameter of 128 characters to its schema rather than answering 414', async () => {
    expect((await post({ name: 'x' }, `/things/${'a'.repeat(128)}?limit=1`)).statusCode).toBe(200);
    expect((await post({ name: 'x' }, `/things/${'a'.repeat(129)}?limit=1`)).statusCode).toBe(400);
  });
});
